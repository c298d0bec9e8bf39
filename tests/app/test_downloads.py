"""A run can be downloaded as model.keras and in the serving format, model.tflite (Train page, Compare runs)."""


def test_compare_offers_keras_and_tflite_downloads(app, store_run):
    """A user comparing runs finds both downloads for the run being looked at; the .tflite is the stored one"""
    from lenet import store

    app.run()
    app.switch_page("pages/train.py").run()
    assert not app.exception
    buttons = {b.proto.label: b.proto for b in app.get("download_button")}
    assert {"Download model.keras", "Download model.tflite"} <= set(buttons)
    assert app.selectbox(key="compare_download_run").value == str(store_run.path)
    assert store.serving_current(store_run.path)  # served from the file written at save time, not converted again
