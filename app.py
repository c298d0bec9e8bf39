"""LeNet Lab — `streamlit run app.py`. Routes to the pages and draws the shared sidebar; nothing else."""
import streamlit as st

PAGES = [
    ("pages/home.py", "Home", ":material/home:"),
    ("pages/train.py", "Train", ":material/model_training:"),
    ("pages/draw.py", "Draw", ":material/draw:"),
    ("pages/upload.py", "Upload", ":material/upload_file:"),
    ("pages/lab.py", "Preprocessing Lab", ":material/science:"),
    ("pages/evaluate.py", "Evaluate", ":material/grid_on:"),
    ("pages/inside.py", "Inside", ":material/visibility:"),
]


def main() -> None:
    st.set_page_config(page_title="LeNet Lab", page_icon=":material/draw:", layout="wide")
    pages = [st.Page(path, title=title, icon=icon, default=(title == "Home")) for path, title, icon in PAGES]
    nav = st.navigation(pages)
    from ui import state

    state.follow_deep_link()
    state.before_page()
    try:
        nav.run()  # the page first: its title streams to the browser while TensorFlow is still importing
    finally:
        state.sidebar()  # drawn after the page, so it shows the model the page actually used


main()
