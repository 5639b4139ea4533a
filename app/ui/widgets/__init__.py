"""Widget name -> UI function. Names match ``app.widgets.REGISTRY`` (a test keeps them in step)."""

from app.ui.widgets import basis, framework, grokking, induction, othello
from app.ui.widgets import superposition
from app.ui.widgets import reversal
from app.ui.widgets import facts
from app.ui.widgets import atp
from app.ui.widgets import ioi
from app.ui.widgets import sae

UI = {
    "othello_board": othello.othello_board_ui,
    "othello_probe_layers": othello.othello_probe_layers_ui,
    "othello_edit": othello.othello_edit_ui,
    "othello_attention": othello.othello_attention_ui,
    "othello_training": othello.othello_training_ui,
    "direct_path": framework.direct_path_ui,
    "attention": framework.attention_ui,
    "circuit": framework.circuit_ui,
    "copying_scores": framework.copying_scores_ui,
    "skip_trigrams": framework.skip_trigrams_ui,
    "composition": framework.composition_ui,
    "repeated_tokens": induction.repeated_tokens_ui,
    "ablation": induction.ablation_ui,
    "phase_change": induction.phase_change_ui,
    "induction_text": induction.induction_text_ui,
    "grok_curves": grokking.grok_curves_ui,
    "fourier_embedding": grokking.fourier_embedding_ui,
    "periodic_activations": grokking.periodic_ui,
    "logit_fourier": grokking.logit_fourier_ui,
    "grok_checkpoint": grokking.grok_checkpoint_ui,
    "basis_dims": basis.basis_dims_ui,
    "basis_text": basis.basis_text_ui,
    "basis_compare": basis.basis_compare_ui,
    "toy_model": superposition.toy_model_ui,
    "superposition_phase": superposition.phase_diagram_ui,
    "feature_dimensionality": superposition.dimensionality_ui,
    "reversal_query": reversal.reversal_query_ui,
    "reversal_accuracy": reversal.reversal_accuracy_ui,
    "fact_lookup": facts.fact_lookup_ui,
    "fact_probes": facts.fact_probes_ui,
    "fact_layers": facts.fact_layers_ui,
    "atp_compare": atp.atp_compare_ui,
    "ioi_prompt": ioi.ioi_prompt_ui,
    "ioi_dla": ioi.ioi_dla_ui,
    "ioi_patching": ioi.ioi_patching_ui,
    "ioi_heads": ioi.ioi_heads_ui,
    "ioi_compare": ioi.ioi_compare_ui,
    "ioi_knockout": ioi.ioi_knockout_ui,
    "sae_training": sae.sae_training_ui,
    "sae_feature": sae.sae_feature_ui,
    "sae_text": sae.sae_text_ui,
    "sae_density": sae.sae_density_ui,
    "sae_monosemanticity": sae.sae_mono_ui,
}
