#!/usr/bin/env python3
"""Checks the include graph against the layer table of docs/architecture.md.

Fails (exit 1, one line per finding) on:
  - a quoted include of a layer folder that the including folder may not include;
  - <torch/...> included outside common/model;
  - an include cycle between modules (module = file stem, "x_impl.h" belongs to "x");
  - an OpenMP region of fedsyn's own (#pragma omp, <omp.h>, at::parallel_for): the
    ThreadSanitizer suppression of libgomp's worker threads (tests/sanitizers/tsan.supp) is
    sound only while no fedsyn code runs on them.

  check_layers.py [--root DIR] [--table FILE]
"""
import argparse
import os
import re
import sys

INCLUDE = re.compile(r'^\s*#\s*include\s*([<"])([^">]+)[">]')
ROW = re.compile(r'^\|[^|]*\|\s*`([^`]+)`\s*\|[^|]*\|([^|]*)\|\s*$')
TORCH_FOLDER = 'common/model'
OPENMP = re.compile(r'^\s*#\s*pragma\s+omp\b|\bparallel_for\s*\(|<omp\.h>')


def read_table(path):
    """{folder: set(folders it may include)} from the table's rows."""
    allowed = {}
    with open(path, encoding='utf-8') as f:
        for line in f:
            m = ROW.match(line)
            if m:
                allowed[m.group(1)] = set(re.findall(r'`([^`]+)`', m.group(2)))
    return allowed


def folder_of(path, folders):
    best = None
    for folder in folders:
        if path.startswith(folder + '/') and (best is None or len(folder) > len(best)):
            best = folder
    return best


def module_of(path):
    stem = os.path.splitext(path)[0]
    return stem[:-len('_impl')] if stem.endswith('_impl') else stem


def strongly_connected(graph):
    """Tarjan's algorithm, iterative: components of more than one node."""
    index, low, on_stack, stack, out = {}, {}, set(), [], []
    counter = 0
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph.get(root, ()))))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            advanced = False
            for child in children:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.get(child, ())))))
                    advanced = True
                    break
                if child in on_stack:
                    low[node] = min(low[node], index[child])
            if advanced:
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    out.append(sorted(component))
    return out


def check(root, table):
    allowed = read_table(table)
    if not allowed:
        return ['%s: no layer table found' % table]
    findings = []
    modules = {}
    for folder in sorted(allowed):
        for directory, _, files in os.walk(os.path.join(root, folder)):
            for name in sorted(files):
                if not name.endswith(('.h', '.cc')):
                    continue
                path = os.path.relpath(os.path.join(directory, name), root)
                source = module_of(path)
                with open(os.path.join(root, path), encoding='utf-8') as f:
                    for number, line in enumerate(f, 1):
                        if OPENMP.search(line):
                            findings.append('%s:%d: an OpenMP region in fedsyn code (see '
                                            'tests/sanitizers/tsan.supp)' % (path, number))
                        m = INCLUDE.match(line)
                        if not m:
                            continue
                        quote, target = m.groups()
                        if quote == '<':
                            if target.startswith('torch/') and folder != TORCH_FOLDER:
                                findings.append('%s:%d: LibTorch outside %s' %
                                                (path, number, TORCH_FOLDER))
                            continue
                        target_folder = folder_of(target, allowed)
                        if target_folder is None:
                            if target.split('/')[0] in ('tests', 'bench'):
                                findings.append('%s:%d: includes %s (tests and benches are '
                                                'never included by the product)' %
                                                (path, number, target))
                            continue  # a library's header
                        if target_folder != folder and target_folder not in allowed[folder]:
                            findings.append('%s:%d: %s may not include %s (%s)' %
                                            (path, number, folder, target_folder, target))
                        dependency = module_of(target)
                        if dependency != source:
                            modules.setdefault(source, set()).add(dependency)
    for cycle in strongly_connected(modules):
        findings.append('include cycle between modules: ' + ' <-> '.join(cycle))
    return findings


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--root', default=os.path.normpath(os.path.join(here, '..', '..')))
    parser.add_argument('--table')
    args = parser.parse_args()
    table = args.table or os.path.join(args.root, 'docs', 'architecture.md')
    findings = check(args.root, table)
    for finding in findings:
        print(finding)
    if findings:
        return 1
    print('layers: every include follows %s; no include cycle' % os.path.relpath(table, args.root))
    return 0


if __name__ == '__main__':
    sys.exit(main())
