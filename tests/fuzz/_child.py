"""Run one fuzz target in this process under a memory cap (started by test_fuzz.py).

    python tests/fuzz/_child.py TARGET EXAMPLES

Prints ``baseline_rss_kib N`` once the imports are done, then ``peak_rss_kib N``
and ``ok`` at the end. The peak is this process's own high-water mark (VmHWM) or
its children's, measured here: the parent's wait4 rusage would also count the
forking parent's pages that exec recorded (a pytest process of 500 MB after a long
suite made every target "balloon"). The address-space limit is the current size plus ``CAP_MIB``: a case that
tries to allocate more dies with MemoryError (a failure), instead of taking
the machine down.
"""

from __future__ import annotations

import resource
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent / "eventlog")]

CAP_MIB = 256


def _status_kib(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def main() -> int:
    target, examples = sys.argv[1], int(sys.argv[2])
    from fuzz_targets import TARGETS  # imports everything the targets use

    TARGETS["frames"](1)  # warm up lazy imports and allocator arenas before measuring
    vm = _status_kib("VmSize")
    if vm:
        limit = (vm + CAP_MIB * 1024 + 64 * 1024) * 1024  # + thread stacks and arenas
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    print(f"baseline_rss_kib {_status_kib('VmRSS')}", flush=True)
    TARGETS[target](examples)
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    print(f"peak_rss_kib {max(_status_kib('VmHWM'), children)}", flush=True)
    print("ok", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
