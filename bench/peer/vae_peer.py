#!/usr/bin/python3
"""The PyTorch peer of bench/fedsyn_bench_throughput (issue #15): the same work in plain
PyTorch, written the way a careful PyTorch user would, so the C++/Python ratios in
docs/performance.md compare like with like.

Same as the C++ bench: UCI Adult from deploy/demo (32,561 rows), encoded by the schema's rules
(common/data/transformer.h: numerics scaled to [-1, 1] plus a missing indicator when nullable
plus a 3-slot bound position; categoricals one-hot with a missing slot when nullable; width
110); the VAE 110 -> 128 -> 128 -> (mu, log var) 8 -> 128 -> 128 -> 110 with ReLU, Gaussian /
Bernoulli / per-block categorical reconstruction loss and a learned log sigma per Gaussian
coordinate; Adam at 1e-3, batch 256, a fresh permutation each epoch. Release: records in ->
encode to the mean code -> clip to L2 radius 3 -> L2 metric noise (uniform direction times a
Gamma(k, 1/eps_d) radius) -> round to the grid -> decode -> draw every block (categories,
missing indicators, bound positions, continuous values from the decoder's normal restricted to
the inside of the bounds) -> records out (one array per column, values in the schema's domain).

Run with Debian's interpreter: /usr/bin/python3 bench/peer/vae_peer.py --threads 2 --epochs 5
Prints one line per figure: "train_rows_per_s N" and "release_rows_per_s N" (plus stages).
"""

import argparse
import math
import os
import sys
import time
import tomllib

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F


def load_schema(path):
    with open(path, "rb") as f:
        return tomllib.load(f)


def read_adult(data_dir):
    schema = load_schema(os.path.join(data_dir, "adult", "adult.schema.toml"))
    missing = set(schema["dataset"].get("missing", []))
    columns = schema["column"]
    rows = []
    with open(os.path.join(data_dir, "adult", "adult.data"), encoding="utf-8") as f:
        for line in f:
            line = line.strip()
            if not line:
                continue
            fields = [x.strip() for x in line.split(",")]
            if len(fields) != len(columns):
                continue
            rows.append(fields)
    # Columnar cells: numerics as float (nan when missing), categoricals as index (-1 missing).
    table = []
    for c, col in enumerate(columns):
        raw = [r[c] for r in rows]
        if col["type"] in ("integer", "continuous"):
            values = np.array([math.nan if v in missing else float(v) for v in raw])
            values = np.clip(values, col["min"], col["max"])
        else:
            index = {name: i for i, name in enumerate(col["categories"])}
            values = np.array([-1 if v in missing else index[v] for v in raw], dtype=np.int64)
        table.append(values)
    return columns, table


class Layout:
    """Model-space layout of the schema (the transformer's rules)."""

    def __init__(self, columns):
        self.columns = columns
        self.width = 0
        self.parts = []  # per column: dict of offsets
        self.gaussian, self.bernoulli, self.categorical = [], [], []
        for col in columns:
            part = {"value": self.width}
            if col["type"] in ("integer", "continuous"):
                self.gaussian.append(self.width)
                self.width += 1
                if col.get("nullable", False):
                    part["indicator"] = self.width
                    self.bernoulli.append(self.width)
                    self.width += 1
                part["position"] = self.width
                self.categorical.append((self.width, 3))
                self.width += 3
            else:
                slots = len(col["categories"]) + (1 if col.get("nullable", False) else 0)
                self.categorical.append((self.width, slots))
                self.width += slots
            self.parts.append(part)

    def encode(self, table):
        n = len(table[0])
        m = np.zeros((n, self.width), dtype=np.float32)
        rows = np.arange(n)
        for col, part, values in zip(self.columns, self.parts, table):
            if col["type"] in ("integer", "continuous"):
                present = ~np.isnan(values)
                lo, hi = col["min"], col["max"]
                m[present, part["value"]] = 2 * (values[present] - lo) / (hi - lo) - 1
                if "indicator" in part:
                    m[~present, part["indicator"]] = 1
                slot = np.where(values <= lo, 0, np.where(values >= hi, 2, 1))
                m[rows[present], part["position"] + slot[present]] = 1
            else:
                slots = len(col["categories"]) + (1 if col.get("nullable", False) else 0)
                m[rows, part["value"] + np.where(values < 0, slots - 1, values)] = 1
        return m


class Vae(nn.Module):
    def __init__(self, layout, latent=8, hidden=(128, 128)):
        super().__init__()
        width, layers = layout.width, []
        for h in hidden:
            layers += [nn.Linear(width, h), nn.ReLU()]
            width = h
        self.encoder = nn.Sequential(*layers)
        self.mu_head = nn.Linear(width, latent)
        self.logvar_head = nn.Linear(width, latent)
        layers, width = [], latent
        for h in reversed(hidden):
            layers += [nn.Linear(width, h), nn.ReLU()]
            width = h
        layers.append(nn.Linear(width, layout.width))
        self.decoder = nn.Sequential(*layers)
        self.gaussian = torch.tensor(layout.gaussian, dtype=torch.long)
        self.bernoulli = torch.tensor(layout.bernoulli, dtype=torch.long)
        self.categorical = layout.categorical
        self.log_sigma = nn.Parameter(torch.zeros(len(layout.gaussian)))

    def encode(self, x):
        h = self.encoder(x)
        return self.mu_head(h), self.logvar_head(h)

    def record_loss(self, x, out, mu, logvar):
        ls = self.log_sigma.clamp_min(-5.0)
        diff = (x[:, self.gaussian] - out[:, self.gaussian]) / ls.exp()
        loss = (0.5 * diff.pow(2) + ls + 0.5 * math.log(2 * math.pi)).sum(1)
        loss = loss + F.binary_cross_entropy_with_logits(
            out[:, self.bernoulli], x[:, self.bernoulli], reduction="none").sum(1)
        for offset, width in self.categorical:
            loss = loss - (x[:, offset:offset + width] *
                           torch.log_softmax(out[:, offset:offset + width], 1)).sum(1)
        kl = -0.5 * (1 + logvar - mu.pow(2) - logvar.exp()).sum(1)
        return loss + kl


def train(model, data, epochs, batch):
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    n = data.shape[0]
    for _ in range(epochs):
        order = torch.randperm(n)
        for begin in range(0, n, batch):
            x = data[order[begin:begin + batch]]
            optimizer.zero_grad()
            mu, logvar = model.encode(x)
            z = mu + torch.exp(0.5 * logvar) * torch.randn_like(mu)
            loss = model.record_loss(x, model.decoder(z), mu, logvar).mean()
            loss.backward()
            optimizer.step()
            loss.item()  # as the C++ trainer reads each step's loss


def privatize(codes, radius, epsilon_d, grid):
    k = codes.shape[1]
    norms = codes.norm(dim=1, keepdim=True).clamp_min(1e-12)
    clipped = codes * torch.clamp(radius / norms, max=1.0)
    direction = torch.randn_like(clipped)
    direction = direction / direction.norm(dim=1, keepdim=True)
    r = torch.distributions.Gamma(torch.tensor(float(k)), torch.tensor(epsilon_d)).sample(
        (codes.shape[0], 1))
    return torch.round((clipped + direction * r) / grid) * grid


def decode_records(model, layout, logits):
    """Draws every block and maps back to the schema's domain: one array per column."""
    n = logits.shape[0]
    scales = model.log_sigma.clamp_min(-5.0).exp()
    gaussian_rank = {offset: i for i, offset in enumerate(layout.gaussian)}
    columns = []
    for col, part in zip(layout.columns, layout.parts):
        if col["type"] in ("integer", "continuous"):
            position = torch.multinomial(
                torch.softmax(logits[:, part["position"]:part["position"] + 3], 1), 1).squeeze(1)
            lo, hi = col["min"], col["max"]
            inside_lo, inside_hi = -1.0, 1.0
            if col["type"] == "integer":
                inside_lo = 2 * (lo + 0.5 - lo) / (hi - lo) - 1
                inside_hi = 2 * (hi - 0.5 - lo) / (hi - lo) - 1
            mean = logits[:, part["value"]]
            sd = scales[gaussian_rank[part["value"]]]
            # Normal restricted to the inside of the bounds, by the inverse CDF.
            a = torch.special.ndtr((inside_lo - mean) / sd)
            b = torch.special.ndtr((inside_hi - mean) / sd)
            u = a + (b - a) * torch.rand(n)
            scaled = (mean + sd * torch.special.ndtri(u.clamp(1e-12, 1 - 1e-12))).clamp(
                inside_lo, inside_hi)
            values = lo + (scaled + 1) * (hi - lo) / 2
            if col["type"] == "integer":
                values = values.round()
            values = torch.where(position == 0, torch.full_like(values, lo),
                                 torch.where(position == 2, torch.full_like(values, hi), values))
            if "indicator" in part:
                missing = torch.rand(n) < torch.sigmoid(logits[:, part["indicator"]])
                values = torch.where(missing, torch.full_like(values, math.nan), values)
            columns.append(values.numpy())
        else:
            slots = len(col["categories"]) + (1 if col.get("nullable", False) else 0)
            block = logits[:, part["value"]:part["value"] + slots]
            index = torch.multinomial(torch.softmax(block, 1), 1).squeeze(1)
            if col.get("nullable", False):
                index = torch.where(index == slots - 1, torch.full_like(index, -1), index)
            columns.append(index.numpy())
    return columns


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", default=os.path.join(os.path.dirname(__file__), "..", "..",
                                                       "deploy", "demo"))
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(1)
    columns, table = read_adult(args.data)
    layout = Layout(columns)
    data = torch.from_numpy(layout.encode(table))
    model = Vae(layout)
    start = time.perf_counter()
    train(model, data, args.epochs, 256)
    train_seconds = time.perf_counter() - start
    n = data.shape[0]
    print(f"peer: torch {torch.__version__}, {n} rows, width {layout.width}, "
          f"threads {torch.get_num_threads()}")
    print(f"train_rows_per_s {n * args.epochs / train_seconds:.0f}")

    model.eval()
    with torch.no_grad():
        start = time.perf_counter()
        codes, _ = model.encode(torch.from_numpy(layout.encode(table)))
        encode_seconds = time.perf_counter() - start
        start = time.perf_counter()
        noised = privatize(codes, radius=3.0, epsilon_d=1.0, grid=2.0 ** -10)
        noise_seconds = time.perf_counter() - start
        start = time.perf_counter()
        records = decode_records(model, layout, model.decoder(noised))
        decode_seconds = time.perf_counter() - start
    assert len(records) == len(columns) and len(records[0]) == n
    total = encode_seconds + noise_seconds + decode_seconds
    print(f"release_rows_per_s {n / total:.0f}")
    print(f"release_encode_rows_per_s {n / encode_seconds:.0f}")
    print(f"release_noise_rows_per_s {n / noise_seconds:.0f}")
    print(f"release_decode_rows_per_s {n / decode_seconds:.0f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
