"""Regulation packs: versioned rules with citations that judge every proposed record. Pure."""
