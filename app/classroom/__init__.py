"""Classroom mode: a teacher's room that every student's screen follows, and "predict the gradient".

codes.py (room codes, presenter keys), qr.py (the join link as an SVG QR code), store.py (rooms and
their events in memory or in Redis), rooms.py (what a room does). The routes are app/routes/classroom.py.
"""
