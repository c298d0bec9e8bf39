"""train page — coming next."""
import streamlit as st

st.title("Train")
st.info("This page is coming next.")
