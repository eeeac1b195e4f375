"""stockmonitor: a daily, trustworthy picture of the Chinese A-share market, built on Dagster."""
