from app.ui.workshop import workshop_page

workshop_page()
