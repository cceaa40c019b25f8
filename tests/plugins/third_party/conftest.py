"""The folders here are plugin packages that ``test_plugin_system.py`` installs; their
own tests and mapping cases need them installed, so they are not collected from here."""

collect_ignore_glob = ["mapwire-*-plugin"]
