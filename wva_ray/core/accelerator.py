"""Accelerator names: `<vendor>/gpu.product` node-label values normalised to short type names. Pure."""

from __future__ import annotations

import re
from collections.abc import Mapping

GPU_VENDORS: tuple[str, ...] = ("nvidia.com", "amd.com", "intel.com")
_VENDOR_PREFIXES = ("NVIDIA-", "AMD-", "INTEL-", "Intel-")
# A memory or form-factor suffix: "80GB", "192G", "HBM3", "PCIE", "SXM4", "NVL" ...
_SUFFIX = re.compile(r"^(\d+G[Bb]?|HBM\d*e?|PCIE|PCIe|SXM\d*|NVL|MIG.*)$")


def normalize_accelerator(product: str) -> str:
    """`NVIDIA-A100-PCIE-80GB` -> `A100`, `NVIDIA-H100-80GB-HBM3` -> `H100`, `AMD-MI300X-192G` -> `MI300X`,
    `Intel-Gaudi-2-96GB` -> `Gaudi-2`. A value without a vendor prefix is returned stripped of suffixes."""
    name = product.strip()
    for prefix in _VENDOR_PREFIXES:
        if name.startswith(prefix):
            name = name[len(prefix) :]
            break
    parts = [p for p in name.split("-") if p]
    while len(parts) > 1 and _SUFFIX.match(parts[-1]):
        parts.pop()
    return "-".join(parts) if parts else product.strip()


def accelerator_from_node_selector(node_selector: Mapping[str, str]) -> str | None:
    """The normalised accelerator named by a pod template's `<vendor>/gpu.product` node selector, if any."""
    for vendor in GPU_VENDORS:
        product = node_selector.get(f"{vendor}/gpu.product")
        if product:
            return normalize_accelerator(product)
    return None
