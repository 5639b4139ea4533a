from app.ui.renderer import render_page

render_page("monosemanticity")
