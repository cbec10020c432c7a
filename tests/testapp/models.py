"""A table the views write, so that the transaction tests can see what a worker reads."""

from __future__ import annotations

from django.db import models


class Delivery(models.Model):
    """One webhook delivery the view stored, by the sender's key."""

    id = models.BigAutoField(primary_key=True)
    key = models.CharField(max_length=64, unique=True)

    def __str__(self) -> str:
        return self.key
