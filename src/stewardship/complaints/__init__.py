"""The complaints mechanism: anyone files, the secretariat handles, the parties may publish."""
