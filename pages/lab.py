"""lab page — coming next."""
import streamlit as st

st.title("Lab")
st.info("This page is coming next.")
