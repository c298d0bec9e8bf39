"""upload page — coming next."""
import streamlit as st

st.title("Upload")
st.info("This page is coming next.")
