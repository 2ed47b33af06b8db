"""Pieces every catalog domain uses: role policy, input types, error docs, event publishing."""
