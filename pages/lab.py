"""Preprocessing Lab: the seed study redone live — accuracy per preprocessing style and per pad scale — on the
user's labelled uploads, or the bundled sample sheet for a new user, with the active model.
"""
import streamlit as st

from lenet.study import PAD_SCALES, SEED_STUDY, STUDY_STYLES
from ui.inputs import LabelledSet, pad_figure, sample_labelled, study_ui, style_figure
from ui.state import LABELLED_UPLOADS, active_model, require_app
from ui.views import digit_grid_ui, label_markdown

require_app(__file__)

SOURCES = {"uploads": "Your labelled uploads", "sample": "The sample sheet (synthesised from MNIST test digits)"}


def data_ui() -> LabelledSet | None:
    """Which labelled digits to study; returns them, or None after saying why there are none."""
    mine = st.session_state.get(LABELLED_UPLOADS) or []
    options = ["uploads", "sample"] if mine else ["sample"]
    source = st.radio("Digits", options, format_func=lambda s: f"{SOURCES[s]} ({len(mine)})" if s == "uploads"
                      else SOURCES[s], horizontal=True, key="lab_source")
    if not mine:
        st.caption("Label your own digits on the Upload page to study your handwriting instead.")
    if source == "uploads":
        return LabelledSet([d["crop"] for d in mine], [int(d["label"]) for d in mine],
                           [d.get("polarity") for d in mine], [d["name"] for d in mine])
    try:
        return sample_labelled()
    except (OSError, ValueError) as err:
        st.error(f"The sample sheet cannot be read ({err}). Recreate it with `python -m lenet make-sheet`.")
        return None


def grid_ui(study, data: LabelledSet) -> None:
    """For a chosen style, every digit as the model saw it, labelled green (right) or red (wrong)."""
    options = list(study.scores)
    c1, c2 = st.columns([1, 2], vertical_alignment="bottom")
    style = c1.selectbox("Style", options, index=options.index("mnist"), key="lab_grid_style")
    score = study.scores[style]
    wrong = int((~score.correct).sum())
    c2.markdown(f"**{score.accuracy * 100:.1f} %** right with **{style}**: {wrong} of {len(score.labels)} wrong")
    caps = [f"{label_markdown(int(t), int(p), float(pr[p]))}" for t, p, pr in zip(score.labels, score.pred,
                                                                                   score.probs)]
    digit_grid_ui(score.x, caps, cols=15, scale=2)


def main() -> None:
    st.title("Preprocessing Lab")
    st.caption("A network that scores 99 % on MNIST read only 49 % of a real scanned sheet in the seed study — and "
               "90 % once the digits were padded. Here the same study runs live with the active model.")
    run, model = active_model()
    if model is None:
        return
    data = data_ui()
    if data is None:
        return
    if not data.crops:
        st.info("No labelled digits yet.")
        return
    study = study_ui(run, model, data.crops, data.labels, data.polarities, STUDY_STYLES, PAD_SCALES)
    acc = study.style_accuracy()
    top = max(acc.values())
    m1, m2, m3 = st.columns(3)
    m1.metric("Digits", len(data.crops))
    m2.metric("Best style", ", ".join(s for s, a in acc.items() if a == top))
    m3.metric("Its accuracy", f"{top * 100:.1f} %")
    st.caption(f"Model: **{run.name}** (the active model; pick another in the sidebar and the study is redone).")
    left, right = st.columns(2, gap="large")
    with left:
        st.subheader("Accuracy per style")
        st.plotly_chart(style_figure(acc, SEED_STUDY), key="lab_styles", config={"displayModeBar": False})
    with right:
        st.subheader("Accuracy vs padding")
        st.plotly_chart(pad_figure(study.by_pad), key="lab_pad", config={"displayModeBar": False})
    st.caption("Styles: **none** the plain image resized; **thresh** smoothed and thresholded; **crop_tight** "
               "cropped to the ink and stretched to 28×28; **crop_sq** cropped to a square; **pad_s** that square "
               "enlarged by s; **mnist** what MNIST itself did (20×20 box, centre of mass centred). Diamonds: the "
               "seed study's scanned sheet.")
    st.subheader("Every digit, as the model saw it")
    grid_ui(study, data)


main()
