"""inside page — coming next."""
import streamlit as st

st.title("Inside")
st.info("This page is coming next.")
