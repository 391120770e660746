"""Human times: "just now", "5 min ago", "yesterday", "3 Mar"."""

from __future__ import annotations

from datetime import UTC, datetime


def parse_iso(value: str) -> datetime | None:
    try:
        parsed = datetime.fromisoformat(value)
    except (TypeError, ValueError):
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def relative(value: str, now: datetime) -> str:
    """How long ago `value` was, in the words a person would use."""
    moment = parse_iso(value)
    if moment is None:
        return ""
    seconds = (now - moment).total_seconds()
    if seconds < 60:
        return "just now"
    if seconds < 3600:
        return f"{int(seconds // 60)} min ago"
    local_now, local = now.astimezone(), moment.astimezone()
    days = (local_now.date() - local.date()).days
    if days == 0:
        return f"{int(seconds // 3600)} h ago"
    if days == 1:
        return "yesterday"
    if days < 7:
        return local.strftime("%A")
    if local.year == local_now.year:
        return f"{local.day} {local.strftime('%b')}"
    return f"{local.day} {local.strftime('%b %Y')}"


def clock_time(value: str) -> str:
    """Local wall-clock time of a message: "14:03"."""
    moment = parse_iso(value)
    return moment.astimezone().strftime("%H:%M") if moment else ""


def date_time(value: str) -> str:
    """Local date and time of a timestamp, for listings and exports: "2026-11-25 14:03"."""
    moment = parse_iso(value)
    return moment.astimezone().strftime("%Y-%m-%d %H:%M") if moment else ""
