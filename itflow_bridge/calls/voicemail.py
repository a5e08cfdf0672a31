"""The voicemail message a call left, found in Asterisk's spool, and its audio file.

Asterisk's app_voicemail (file storage) keeps each message as
``<spool>/<context>/<mailbox>/<folder>/msgNNNN.txt`` (an INI file, section
``[message]``: ``callerid``, ``origtime`` epoch seconds, ``duration`` seconds,
``msg_id`` = ``<origtime>-<counter>``) beside its audio, ``msgNNNN.wav``,
``.WAV`` or ``.gsm``, one per format in ``voicemail.conf``.  ``msgNNNN`` is
only a position: listening moves a message to ``Old``, deleting one renumbers
the rest.  ``msg_id`` stays, so a message is remembered by its mailbox folder
and ``msg_id`` and its file is looked for again whenever it is wanted
(``locate``).

Which message a call left: the one ``VM_MESSAGEFILE`` named (the dialplan
manager class), when its ``.txt`` still belongs to this call; else the newest
whose ``origtime`` lies within the call (5 s either side) from the caller's
number.  Names taken from the events (mailbox, context, message file) are
checked to stay inside the spool.
"""

from __future__ import annotations

import configparser
import logging
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Optional, Tuple

from .classify import UNKNOWN_NUMBERS, ClassifiedCall

log = logging.getLogger(__name__)

DEFAULT_CONTEXT = "default"  # app_voicemail's context for a mailbox given without ``@context``
WINDOW = 5.0  # seconds either side of the call in which its message's origtime may lie
# Audio formats served, the preferred first, with their Content-Type.
AUDIO_TYPES: Tuple[Tuple[str, str], ...] = ((".wav", "audio/wav"), (".WAV", "audio/wav"), (".gsm", "audio/x-gsm"))
_NAME = re.compile(r"[A-Za-z0-9_+.-]+")  # a context, mailbox or folder name as Asterisk writes them
_MESSAGE = re.compile(r"msg[0-9]+")
_MSG_ID = re.compile(r"[A-Za-z0-9-]{1,64}")
_NUMBER = re.compile(r"<([^<>]*)>\s*$")


@dataclass(frozen=True)
class VoicemailMessage:
    """One message in a mailbox: enough to find its file again after it moved, and to describe it."""

    mailbox: str  # as the call named it, "100@default"
    mailbox_dir: Path  # <spool>/<context>/<mailbox>
    msg_id: str
    seconds: Optional[int]  # the recording's length
    received: Optional[int]  # origtime, epoch seconds
    audio: Optional[Path]  # where the audio was when the message was found


@dataclass(frozen=True)
class VoicemailAudio:
    """A message's audio file as it is served: where, which type, the name a browser saves it as."""

    path: Path
    content_type: str
    filename: str


@dataclass(frozen=True)
class _Info:
    """A message's ``.txt``, read."""

    txt: Path
    msg_id: str
    origtime: Optional[int]
    duration: Optional[int]
    number: str


def mailbox_dir(spool: Path, mailbox: str) -> Optional[Path]:
    """``<spool>/<context>/<mailbox>`` for ``100@default`` (or ``100``: context ``default``); None if not a name."""
    first = mailbox.split("&", 1)[0].split(",", 1)[0].strip()
    box, _, context = first.partition("@")
    context = context or DEFAULT_CONTEXT
    if not (_safe_name(box) and _safe_name(context)):
        return None
    return spool / context / box


def find_message(spool: Path, call: ClassifiedCall) -> Optional[VoicemailMessage]:
    """The message ``call`` left in ``spool`` (``[calls] voicemail_spool``), or None when none is found."""
    voicemail = call.voicemail
    if voicemail is None:
        return None
    folder = mailbox_dir(spool, voicemail.mailbox) if voicemail.mailbox else None
    named = _named_message(spool, voicemail.message_file) if voicemail.message_file else None
    if named is not None and _belongs_to(named, call):
        return _message(voicemail.mailbox, named.txt.parent.parent, named)  # its own mailbox (VoiceMail(a&b))
    if folder is None and named is not None:
        folder = named.txt.parent.parent
    if folder is None or call.start is None or call.end is None:
        return None
    candidates = [info for info in _messages(folder) if info.origtime is not None
                  and call.start - WINDOW <= info.origtime <= call.end + WINDOW and _same_number(info, call)]
    if not candidates:
        return None
    newest = max(candidates, key=lambda info: (info.origtime or 0, info.msg_id))
    return _message(voicemail.mailbox, folder, newest)


def locate(folder: Path, msg_id: str) -> Optional[VoicemailAudio]:
    """The audio of message ``msg_id`` in mailbox ``folder`` now, whichever of its folders it moved to."""
    if not _MSG_ID.fullmatch(msg_id):
        return None
    for info in _messages(folder):
        if info.msg_id == msg_id:
            return _audio_of(info.txt, msg_id)
    return None


def _audio_of(txt: Path, msg_id: str) -> Optional[VoicemailAudio]:
    for suffix, content_type in AUDIO_TYPES:
        path = txt.with_suffix(suffix)
        if path.is_file():
            return VoicemailAudio(path, content_type, "voicemail-%s%s" % (msg_id, suffix.lower()))
    return None


def _message(mailbox: str, folder: Path, info: _Info) -> VoicemailMessage:
    audio = _audio_of(info.txt, info.msg_id)
    return VoicemailMessage(mailbox=mailbox, mailbox_dir=folder, msg_id=info.msg_id, seconds=info.duration,
                            received=info.origtime, audio=audio.path if audio is not None else None)


def _named_message(spool: Path, message_file: str) -> Optional[_Info]:
    """The ``.txt`` of ``VM_MESSAGEFILE`` (``/var/spool/asterisk/voicemail/default/100/INBOX/msg0000``).

    Its last four parts are read under ``spool``, so a spool seen at another
    path (a container, a chroot) still works; names outside that shape are refused.
    """
    parts = Path(message_file).parts[-4:]
    if len(parts) != 4 or not all(_safe_name(part) for part in parts[:3]) or not _MESSAGE.fullmatch(parts[3]):
        return None
    return _read(spool.joinpath(*parts).with_suffix(".txt"))


def _belongs_to(info: _Info, call: ClassifiedCall) -> bool:
    """Whether the file a call named still holds its message (not a later one that took its number)."""
    if call.start is not None and call.end is not None and info.origtime is not None:
        if not call.start - WINDOW <= info.origtime <= call.end + WINDOW:
            return False
    return _same_number(info, call)


def _same_number(info: _Info, call: ClassifiedCall) -> bool:
    number = call.caller_number.strip()
    if number.lower() in UNKNOWN_NUMBERS:
        return info.number.lower() in UNKNOWN_NUMBERS
    if info.number == number:
        return True
    digits = re.sub(r"\D", "", number)
    return bool(digits) and re.sub(r"\D", "", info.number) == digits


def _messages(folder: Path) -> Iterator[_Info]:
    """Every readable message of a mailbox, in any of its folders (INBOX, Old, Work, ...)."""
    try:
        subfolders = sorted(entry.path for entry in os.scandir(folder) if entry.is_dir(follow_symlinks=False))
    except OSError:
        return
    for subfolder in subfolders:
        try:
            names = sorted(name for name in os.listdir(subfolder)
                           if name.endswith(".txt") and _MESSAGE.fullmatch(name[:-4]))
        except OSError:
            continue
        for name in names:
            info = _read(Path(subfolder) / name)
            if info is not None:
                yield info


def _read(txt: Path) -> Optional[_Info]:
    parser = configparser.ConfigParser(interpolation=None, strict=False, delimiters=("=",),
                                       comment_prefixes=(";", "#"))
    try:
        parser.read_string(txt.read_text(encoding="utf-8", errors="replace"), source=str(txt))
        section = parser["message"]
    except (OSError, configparser.Error, KeyError):
        return None
    msg_id = section.get("msg_id", "").strip()
    if not _MSG_ID.fullmatch(msg_id):
        return None  # no msg_id (Asterisk before 11): such a message cannot be found again once it moves
    return _Info(txt=txt, msg_id=msg_id, origtime=_whole(section.get("origtime", "")),
                 duration=_whole(section.get("duration", "")), number=_number(section.get("callerid", "")))


def _number(callerid: str) -> str:
    """``"ACME Corp" <+15551234567>`` -> ``+15551234567``; a bare number stays as it is."""
    match = _NUMBER.search(callerid.strip())
    return (match.group(1) if match else callerid).strip().strip('"')


def _whole(raw: str) -> Optional[int]:
    try:
        return int(raw.strip())
    except ValueError:
        return None


def _safe_name(name: str) -> bool:
    return bool(_NAME.fullmatch(name)) and name not in (".", "..")

