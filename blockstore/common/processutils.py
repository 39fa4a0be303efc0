"""The one way blockstore runs external commands (lvm, losetup, tgtadm, ...).

Rules every caller gets for free:

* argv lists only: a command is never run through a shell, so no argument is
  ever re-split or interpreted, whatever it contains;
* a timeout on every command (:data:`DEFAULT_TIMEOUT` unless given);
* stdout and stderr are captured and returned as text; stdin is /dev/null
  unless ``process_input`` is given, so nothing can block on a prompt;
* ``LC_ALL=C`` so output parsing does not depend on the locale; ``env``
  adds or overrides variables (e.g. ``LVM_SYSTEM_DIR``);
* a non-zero exit (one not listed in ``check_exit_code``), a timeout or a
  missing executable raises
  :class:`~blockstore.common.exception.ProcessExecutionError`;
* secrets never reach a log line or an error message: the values passed in
  ``secrets`` and anything that looks like a password option
  (``--password X``, ``password=X``, ``incominguser U X``, ``userid=U
  password=X``) are replaced by ``***``.

Drivers take an ``execute`` callable with this signature so unit tests can
inject a recorder instead of running anything.
"""

import collections
import os
import re
import shlex
import subprocess
import time

from oslo_log import log as logging

from blockstore.common import exception

LOG = logging.getLogger(__name__)

#: Seconds a command may run unless the caller says otherwise.
DEFAULT_TIMEOUT = 120
MASK = '***'

#: Result of a command: its text output and exit code.
Result = collections.namedtuple('Result', ['stdout', 'stderr', 'exit_code'])

# Argument names whose *next* argv element is a secret.
_SECRET_OPTIONS = frozenset(['--password', '--passwd', '--chap-password', '--secret',
                             '--mutual-password', '--outgoing-password'])
# Secrets embedded in text: "password=X", "password-secret" is not a secret.
_TEXT_PATTERNS = (
    re.compile(r'(?i)((?:^|[\s,;"\'])(?:password|passwd|secret|auth_password|'
               r'mutual_password)\s*[=:]\s*["\']?)([^\s,;"\']+)'),
    re.compile(r'(?i)((?:--password|--passwd|--secret|--chap-password)[ =]["\']?)'
               r'([^\s"\']+)'),
    # tgt config / tgtadm: "incominguser USER PASS", "outgoinguser USER PASS"
    re.compile(r'(?i)((?:incoming|outgoing)user\s+\S+\s+)(\S+)'),
    # Cinder's provider_auth format: "CHAP user pass"
    re.compile(r'(\bCHAP\s+\S+\s+)(\S+)'),
    # iscsi://user%password@host URLs
    re.compile(r'(iscsi://[^%@/\s]+%)([^@\s]+)'),
)


def mask_secrets(text, secrets=()):
    """Return ``text`` with the given secret values and password-like fields masked."""
    if not text:
        return text
    text = str(text)
    for secret in secrets:
        if secret:
            text = text.replace(str(secret), MASK)
    for pattern in _TEXT_PATTERNS:
        text = pattern.sub(lambda m: m.group(1) + MASK, text)
    return text


def mask_argv(argv, secrets=()):
    """Return a copy of ``argv`` with secret arguments replaced by ``***``."""
    masked = []
    hide_next = False
    for arg in argv:
        arg = str(arg)
        if hide_next:
            masked.append(MASK)
            hide_next = False
            continue
        if arg in _SECRET_OPTIONS:
            hide_next = True
            masked.append(arg)
            continue
        masked.append(mask_secrets(arg, secrets))
    return masked


def format_argv(argv, secrets=()):
    """One printable line for ``argv`` (masked, shell-quoted for reading only)."""
    return ' '.join(shlex.quote(a) for a in mask_argv(argv, secrets))


def execute(*cmd, timeout=DEFAULT_TIMEOUT, env=None, check_exit_code=(0,),
            process_input=None, secrets=(), cwd=None, log_errors=True):
    """Run ``cmd`` (an argv list given as positional arguments) and return a Result.

    :param cmd: program and arguments; every element is converted with ``str``.
    :param timeout: seconds before the command is killed (None: no limit).
    :param env: mapping of environment variables added to the current ones.
    :param check_exit_code: exit codes that count as success (an iterable of
        ints, or ``False`` to accept any).
    :param process_input: text written to the command's stdin.
    :param secrets: values to mask in logs and errors besides password-like
        fields (e.g. a CHAP password that appears as a bare argument).
    :param cwd: working directory.
    :param log_errors: log a failure at warning level before raising.
    :returns: :data:`Result` ``(stdout, stderr, exit_code)``.
    :raises ProcessExecutionError: non-accepted exit code, timeout, or the
        program cannot be started.
    """
    if len(cmd) == 1 and isinstance(cmd[0], (list, tuple)):
        cmd = tuple(cmd[0])
    if not cmd:
        raise ValueError('empty command')
    argv = [os.fspath(c) if isinstance(c, os.PathLike) else str(c) for c in cmd]
    printable = format_argv(argv, secrets)
    full_env = dict(os.environ)
    full_env['LC_ALL'] = 'C'
    if env:
        full_env.update({k: str(v) for k, v in env.items()})
    LOG.debug('Running %s', printable)
    start = time.monotonic()
    try:
        proc = subprocess.run(
            argv, input=process_input, capture_output=True, text=True, errors='replace',
            stdin=None if process_input is not None else subprocess.DEVNULL,
            env=full_env, cwd=cwd, timeout=timeout, close_fds=True, check=False)
    except subprocess.TimeoutExpired as e:
        out = e.stdout.decode(errors='replace') if isinstance(e.stdout, bytes) else e.stdout
        err = e.stderr.decode(errors='replace') if isinstance(e.stderr, bytes) else e.stderr
        error = exception.ProcessExecutionError(
            cmd=printable, exit_code=None, stdout=mask_secrets(out, secrets),
            stderr=mask_secrets(err, secrets),
            description='timed out after %s s' % timeout, timed_out=True)
        if log_errors:
            LOG.warning('%s', error)
        raise error from None
    except OSError as e:  # missing program, not executable, ...
        error = exception.ProcessExecutionError(
            cmd=printable, exit_code=None, description='could not be started: %s' % e)
        if log_errors:
            LOG.warning('%s', error)
        raise error from None
    elapsed = time.monotonic() - start
    accepted = check_exit_code is False or proc.returncode in tuple(check_exit_code)
    LOG.debug('%s returned %d in %.3f s', printable, proc.returncode, elapsed)
    if not accepted:
        error = exception.ProcessExecutionError(
            cmd=printable, exit_code=proc.returncode,
            stdout=mask_secrets(proc.stdout, secrets),
            stderr=mask_secrets(proc.stderr.strip(), secrets))
        if log_errors:
            LOG.warning('%s', error)
        raise error
    return Result(proc.stdout, proc.stderr, proc.returncode)
