"""cloc-bench: the CLOC loss, ordinal metrics, training and aggregation.

Drop-in use::

    from cloc import OrdinalContrastiveLoss_mm
    criterion = OrdinalContrastiveLoss_mm(n_classes=5)
    loss = F.cross_entropy(logits, y) + criterion(logits, y)
"""

from cloc.loss import OrdinalContrastiveLoss_mm, OrdinalContrastiveLoss_sm, ordinal_contrastive_loss

__all__ = ["OrdinalContrastiveLoss_mm", "OrdinalContrastiveLoss_sm", "ordinal_contrastive_loss"]
__version__ = "0.1.0"
