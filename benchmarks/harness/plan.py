"""What a benchmark run measures and how much work each figure gets (`--quick` vs the full run)."""

from __future__ import annotations

from dataclasses import dataclass

SECTIONS = ("prepare", "memory", "train", "flops", "threads", "eval", "cli")
MB = 1e6  # figures are in decimal MB/GB (the 1.5 GB target is 1,500 MB)


@dataclass(frozen=True)
class Plan:
    """How much work each measurement does. `--quick` only checks that everything runs."""

    quick: bool
    repeats: int
    prepare_rows: int | None  # None: the full 737,280 images
    train_images: int  # real dSprites images rendered for the throughput runs
    window_s: float  # target length of one timed window
    min_steps: int
    memory_steps: int
    thread_window_s: float
    eval_points: int
    profile_steps: int
    gemm_n: int

    @staticmethod
    def make(quick: bool, repeats: int | None) -> Plan:
        if quick:
            return Plan(
                quick=True,
                repeats=repeats or 2,
                prepare_rows=16_384,
                train_images=2_048,
                window_s=0.2,
                min_steps=1,
                memory_steps=3,
                thread_window_s=0.4,
                eval_points=2_000,
                profile_steps=2,
                gemm_n=512,
            )
        return Plan(
            quick=False,
            repeats=repeats or 3,
            prepare_rows=None,
            train_images=16_384,
            window_s=1.5,
            min_steps=5,
            memory_steps=20,
            thread_window_s=2.0,
            eval_points=10_000,
            profile_steps=8,
            gemm_n=2_048,
        )
