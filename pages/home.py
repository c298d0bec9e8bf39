"""home page — coming next."""
import streamlit as st

st.title("Home")
st.info("This page is coming next.")
