"""Theoretical peak FLOP/s of the CPU (from its ISA and clock) and of known GPUs (datasheets), with every
assumption spelled out, for the efficiency figures of section 7.
"""

from __future__ import annotations

import platform
from pathlib import Path
from typing import Any

from benchmarks.harness.machine import cpu_count, cpu_info


def cpu_peak() -> dict[str, Any]:
    """Theoretical FP32 peak = cores × clock × FLOP/cycle/core, with every assumption spelled out."""
    info = cpu_info()
    flags = set(info.get("flags", "").split())
    vendor, family = info.get("vendor_id", "?"), int(info.get("cpu family", "0") or 0)
    name = info.get("model name", platform.processor() or "?")
    logical = cpu_count()
    siblings, cores_per_pkg = int(info.get("siblings", "0") or 0), int(info.get("cpu cores", "0") or 0)
    smt = siblings // cores_per_pkg if siblings and cores_per_pkg and siblings >= cores_per_pkg else 1
    cores = max(1, logical // smt)
    notes = []
    fma = "fma" in flags
    if "avx512f" in flags:
        lanes, isa = 16, "AVX-512"
    elif "avx2" in flags:
        lanes, isa = 8, "AVX2"
    elif "avx" in flags:
        lanes, isa = 8, "AVX"
    else:
        lanes, isa = 4, "SSE"
    units = 2
    if vendor == "AuthenticAMD" and family == 25 and lanes == 16:  # Zen 4
        lanes = 8
        notes.append("AMD family 25 (Zen 4) with AVX-512: 512-bit ops run as two 256-bit halves → 8 lanes/FMA unit")
    elif vendor == "AuthenticAMD" and family == 26 and lanes == 16:  # Zen 5
        if "Ryzen AI" in name:
            lanes = 8
            notes.append("AMD family 26 mobile (Zen 5, Strix): 256-bit datapath → 8 lanes/FMA unit")
        else:
            notes.append(
                "AMD family 26 (Zen 5, EPYC 9005/Ryzen 9000): full 512-bit datapath, 2 FMA pipes "
                "→ 16 lanes/FMA unit (Zen 4 would be half)"
            )
    elif vendor == "GenuineIntel" and lanes == 16:
        notes.append("Intel AVX-512: assumes 2 FMA-512 units (Xeon Gold/Platinum; some parts have 1)")
    per_cycle = lanes * units * (2 if fma else 1)
    mhz = float(info.get("cpu MHz", "0") or 0)
    clock_source = "/proc/cpuinfo cpu MHz"
    try:
        max_khz = int(Path("/sys/devices/system/cpu/cpu0/cpufreq/cpuinfo_max_freq").read_text())
        if max_khz / 1000 > mhz:
            mhz, clock_source = max_khz / 1000, "cpufreq cpuinfo_max_freq"
    except (OSError, ValueError):
        notes.append("no cpufreq (VM?): clock is the reported cpu MHz, often the base clock; boost would raise peak")
    peak = cores * mhz * 1e6 * per_cycle
    return {
        "vendor": vendor,
        "family": family,
        "model": name,
        "isa": isa,
        "fma": fma,
        "logical_cpus": logical,
        "smt": smt,
        "cores": cores,
        "mhz": mhz,
        "clock_source": clock_source,
        "lanes": lanes,
        "fma_units": units,
        "flop_per_cycle_per_core": per_cycle,
        "fp32_peak_flops": peak,
        "notes": notes,
        "bf16_native": "avx512_bf16" in flags or "amx_bf16" in flags,
    }


CUDA_PEAKS = [  # (name fragment, dense FP32 non-tensor, dense BF16 tensor) in FLOP/s, from datasheets
    ("H200", 67e12, 989e12),
    ("H100 NVL", 60e12, 835e12),
    ("H100 PCIe", 51e12, 756e12),
    ("H100", 67e12, 989e12),
    ("A100", 19.5e12, 312e12),
    ("L40S", 91.6e12, 362e12),
    ("L4", 30.3e12, 121e12),
]


def cuda_peak(device) -> dict[str, Any]:
    import torch

    name = torch.cuda.get_device_name(device)
    for fragment, fp32, bf16 in CUDA_PEAKS:
        if fragment in name:
            return {
                "model": name,
                "fp32_peak_flops": fp32,
                "bf16_peak_flops": bf16,
                "notes": [
                    f"datasheet peaks for {fragment} (dense)",
                    f"cudnn.allow_tf32={torch.backends.cudnn.allow_tf32}: FP32 convs may run as TF32 "
                    "on tensor cores, so 'FP32' efficiency against the non-tensor FP32 peak can exceed 100%",
                ],
            }
    return {"model": name, "fp32_peak_flops": None, "bf16_peak_flops": None, "notes": ["peak unknown for this GPU"]}
