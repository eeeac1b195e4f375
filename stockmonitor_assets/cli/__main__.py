from stockmonitor_assets.cli.main import main

main()
