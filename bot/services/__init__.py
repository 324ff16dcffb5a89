"""Application services: one unit of work per event, the conversation core in the middle.

Each service opens a :class:`storage.uow.UnitOfWork`, loads state, asks the pure core what to do,
applies the effects, writes every outgoing message to the outbox and commits once. Nothing is sent
from here: the delivery loop sends after the commit. The services know no channel API.
"""
