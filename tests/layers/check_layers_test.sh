#!/usr/bin/env bash
# The layer checker catches what it promises: an include against the table, LibTorch outside
# common/model, a module cycle, an include of tests/ — and passes a tree that follows the table.
set -euo pipefail
checker="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/check_layers.py"
tree="$(mktemp -d)"
trap 'rm -rf "$tree"' EXIT
mkdir -p "$tree/docs" "$tree/common/base" "$tree/common/model" "$tree/app"
cat > "$tree/docs/architecture.md" <<'MD'
| layer | folder | holds | may include |
|---|---|---|---|
| base | `common/base` | x | – |
| model | `common/model` | x | `common/base` |
| app | `app` | x | `common/base`, `common/model` |
MD
echo '#include <string>' > "$tree/common/base/a.h"
printf '#include "common/base/a.h"\n#include <torch/torch.h>\n' > "$tree/common/model/m.h"
printf '#include "common/model/m.h"\n#include "nlohmann/json.hpp"\n' > "$tree/app/x.h"
printf '#include "app/x.h"\n' > "$tree/app/y.h"
printf '#include "app/y.h"\n' > "$tree/app/x.cc"     # x -> y only through y.h: fine
printf '#include "app/x_impl.h"\n' > "$tree/app/z.h"
printf '#include "app/z.h"\n' > "$tree/app/x_impl.h"  # pimpl header of x... that includes z
python3 "$checker" --root "$tree" > "$tree/out" && { cat "$tree/out"; echo "FAIL: expected the x <-> z cycle"; exit 1; }
grep -q "include cycle between modules: app/x <-> app/y <-> app/z" "$tree/out" ||
  { cat "$tree/out"; echo "FAIL: cycle not named"; exit 1; }

rm "$tree/app/x_impl.h" "$tree/app/z.h" "$tree/app/x.cc"
python3 "$checker" --root "$tree" || { echo "FAIL: a clean tree was refused"; exit 1; }

printf '#include "app/x.h"\n' > "$tree/common/base/up.h"   # a layer including upwards
printf '#include <torch/torch.h>\n' > "$tree/app/t.cc"      # torch outside common/model
printf '#include "tests/support/fake.h"\n' > "$tree/app/u.cc"
printf 'void f() {\n#pragma omp parallel for\n  for (;;) {}\n}\n' > "$tree/app/w.cc"
python3 "$checker" --root "$tree" > "$tree/out" && { cat "$tree/out"; echo "FAIL: expected findings"; exit 1; }
for expected in "common/base/up.h:1: common/base may not include app" \
                "app/t.cc:1: LibTorch outside common/model" \
                "app/u.cc:1: includes tests/support/fake.h" \
                "app/w.cc:2: an OpenMP region in fedsyn code"; do
  grep -qF "$expected" "$tree/out" || { cat "$tree/out"; echo "FAIL: missing '$expected'"; exit 1; }
done
echo "check_layers_test: passed"
