"""The sandbox's revisions, oldest first; a package so that an installed app ships them."""
