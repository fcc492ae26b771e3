"""`pln serve`: the admin's and teachers' pages (Flask on waitress).

`app.create_app` builds the Flask app, `serve.serve` runs it until SIGTERM;
views reach the configuration and the database through `context.web_state`.
"""
