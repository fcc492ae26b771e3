"""L3, the entry points, kept thin: the `pln` command line, the service
(`pln run`) and the offline demo. Nothing imports this folder."""
