"""draw page — coming next."""
import streamlit as st

st.title("Draw")
st.info("This page is coming next.")
