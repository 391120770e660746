"""Screens: the chat screen and its modals."""
