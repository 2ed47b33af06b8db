"""The catalog's billing entities as subscriptions knows them: codes per organization (a projection)."""
