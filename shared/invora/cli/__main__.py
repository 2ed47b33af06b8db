from invora.cli.main import app

app(prog_name="invora")
