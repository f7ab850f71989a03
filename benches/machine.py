"""What the benchmarks record about the machine with every figure."""
import os
import platform


def cpu_model(cores=False):
    """The CPU model and its vector extensions (AVX2, AVX-512, VNNI), and with cores=True the
    number of cores."""
    try:
        with open("/proc/cpuinfo") as f:
            info = f.read()
        model = next(l.split(":", 1)[1].strip() for l in info.splitlines() if l.startswith("model name"))
        flags = next(l.split(":", 1)[1].split() for l in info.splitlines() if l.startswith("flags"))
        ext = [f for f in ("avx2", "avx512f", "avx512_vnni", "avx_vnni") if f in flags]
        described = f"{model} ({', '.join(ext)})"
        return f"{described}, {os.cpu_count()} cores" if cores else described
    except (OSError, StopIteration):
        return platform.processor()
