"""Widget parameter models: one pydantic model per widget, no Streamlit.

The same model validates a walkthrough's YAML args, reads and writes the URL query
parameters (so a copied URL reproduces the view), and produces the "show code"
snippet of TransformerLens that reproduces the figure outside the app.
"""

from app.widgets.atp import AtPParams
from app.widgets.base import MAX_TEXT_CHARS, WidgetParams
from app.widgets.basis import BasisCompareParams, BasisDimsParams, BasisTextParams
from app.widgets.framework import (
    AttentionParams,
    CircuitParams,
    CompositionParams,
    CopyingParams,
    DirectPathParams,
    SkipTrigramParams,
)
from app.widgets.facts import FactLayersParams, FactLookupParams, FactProbeParams
from app.widgets.grokking import (
    FourierEmbeddingParams,
    GrokCheckpointParams,
    GrokCurvesParams,
    LogitFourierParams,
    PeriodicParams,
)
from app.widgets.ioi import IOICompareParams, IOIDLAParams, IOIHeadsParams, IOIKnockoutParams, IOIPatchParams, IOIPromptParams
from app.widgets.induction import AblationParams, InductionTextParams, PhaseChangeParams, RepeatedTokensParams
from app.widgets.othello import (
    BoardParams,
    EditParams,
    OthelloAttentionParams,
    OthelloTrainingParams,
    ProbeLayersParams,
)
from app.widgets.reversal import ReversalAccuracyParams, ReversalQueryParams
from app.widgets.sae import SAEDensityParams, SAEFeatureParams, SAEMonoParams, SAETextParams, SAETrainingParams
from app.widgets.superposition import DimensionalityParams, PhaseDiagramParams, ToyModelParams

REGISTRY: dict[str, type[WidgetParams]] = {
    "othello_board": BoardParams,
    "othello_probe_layers": ProbeLayersParams,
    "othello_edit": EditParams,
    "othello_attention": OthelloAttentionParams,
    "othello_training": OthelloTrainingParams,
    "direct_path": DirectPathParams,
    "attention": AttentionParams,
    "circuit": CircuitParams,
    "copying_scores": CopyingParams,
    "skip_trigrams": SkipTrigramParams,
    "composition": CompositionParams,
    "repeated_tokens": RepeatedTokensParams,
    "ablation": AblationParams,
    "phase_change": PhaseChangeParams,
    "induction_text": InductionTextParams,
    "grok_curves": GrokCurvesParams,
    "fourier_embedding": FourierEmbeddingParams,
    "periodic_activations": PeriodicParams,
    "logit_fourier": LogitFourierParams,
    "grok_checkpoint": GrokCheckpointParams,
    "basis_dims": BasisDimsParams,
    "basis_text": BasisTextParams,
    "basis_compare": BasisCompareParams,
    "toy_model": ToyModelParams,
    "superposition_phase": PhaseDiagramParams,
    "feature_dimensionality": DimensionalityParams,
    "reversal_query": ReversalQueryParams,
    "reversal_accuracy": ReversalAccuracyParams,
    "fact_lookup": FactLookupParams,
    "fact_probes": FactProbeParams,
    "fact_layers": FactLayersParams,
    "atp_compare": AtPParams,
    "ioi_prompt": IOIPromptParams,
    "ioi_dla": IOIDLAParams,
    "ioi_patching": IOIPatchParams,
    "ioi_heads": IOIHeadsParams,
    "ioi_compare": IOICompareParams,
    "ioi_knockout": IOIKnockoutParams,
    "sae_training": SAETrainingParams,
    "sae_feature": SAEFeatureParams,
    "sae_text": SAETextParams,
    "sae_density": SAEDensityParams,
    "sae_monosemanticity": SAEMonoParams,
}

__all__ = ["MAX_TEXT_CHARS", "REGISTRY", "WidgetParams", *(cls.__name__ for cls in REGISTRY.values())]
