from app.ui.catalog import catalog_ui

catalog_ui()
