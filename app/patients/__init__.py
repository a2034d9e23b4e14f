"""Who the signed-in person is, and who they may act for."""
