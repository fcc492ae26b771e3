"""HTTP for every connector: the guarded session, bounded fetches, errors mapped onto the tree."""
