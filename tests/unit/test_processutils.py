"""processutils.execute: argv only, timeouts, errors and secret masking."""

import logging

import pytest

from blockstore.common import exception
from blockstore.common import processutils


def test_runs_argv_without_a_shell():
    out = processutils.execute('echo', 'a; echo injected', '$HOME', '`id`')
    assert out.stdout == 'a; echo injected $HOME `id`\n'
    assert out.exit_code == 0 and out.stderr == ''


def test_a_single_list_argument_is_the_argv():
    assert processutils.execute(['printf', '%s', 'x y']).stdout == 'x y'


def test_non_zero_exit_raises_with_command_code_and_stderr():
    with pytest.raises(exception.ProcessExecutionError) as info:
        processutils.execute('sh', '-c', 'echo out; echo "it broke" >&2; exit 3')
    err = info.value
    assert isinstance(err, exception.VolumeBackendAPIException)
    assert err.exit_code == 3 and err.stderr == 'it broke' and err.stdout == 'out\n'
    assert err.cmd.startswith('sh -c ') and not err.timed_out
    assert 'exit code 3' in str(err) and 'it broke' in str(err)


def test_accepted_exit_codes():
    assert processutils.execute('sh', '-c', 'exit 2', check_exit_code=(0, 2)).exit_code == 2
    assert processutils.execute('sh', '-c', 'exit 9', check_exit_code=False).exit_code == 9


def test_timeout():
    with pytest.raises(exception.ProcessExecutionError) as info:
        processutils.execute('sleep', '10', timeout=0.2)
    assert info.value.timed_out and info.value.exit_code is None
    assert 'timed out' in str(info.value)


def test_missing_program():
    with pytest.raises(exception.ProcessExecutionError) as info:
        processutils.execute('/nonexistent/blockstore-tool')
    assert info.value.exit_code is None and 'could not be started' in str(info.value)


def test_env_is_added_and_locale_is_c():
    out = processutils.execute('sh', '-c', 'echo "$LVM_SYSTEM_DIR $LC_ALL"',
                               env={'LVM_SYSTEM_DIR': '/tmp/lvmconf'}).stdout
    assert out == '/tmp/lvmconf C\n'


def test_stdin_is_empty_unless_input_is_given():
    assert processutils.execute('cat').stdout == ''
    assert processutils.execute('cat', process_input='abc').stdout == 'abc'


def test_empty_command_is_refused():
    with pytest.raises(ValueError):
        processutils.execute()


@pytest.mark.parametrize('text, expected', [
    ('tgtadm --op new --mode account --user u1 --password S3cret',
     'tgtadm --op new --mode account --user u1 --password ***'),
    ('    incominguser chapuser Chap2Passw0rdX', '    incominguser chapuser ***'),
    ('provider_auth CHAP user1 pass1', 'provider_auth CHAP user1 ***'),
    ('iscsi://user%pw123@127.0.0.1:3260/iqn/1', 'iscsi://user%***@127.0.0.1:3260/iqn/1'),
    ('set auth userid=u password=p4ss', 'set auth userid=u password=***'),
    ('password-secret=sec0 nothing else', 'password-secret=sec0 nothing else'),
])
def test_mask_secrets_patterns(text, expected):
    assert processutils.mask_secrets(text) == expected


def test_mask_argv_hides_the_value_after_password_options_and_given_secrets():
    argv = ['tgtadm', '--password', 'S3cret', 'x=Bare1', '--user', 'u']
    assert processutils.mask_argv(argv, secrets=('Bare1',)) == [
        'tgtadm', '--password', '***', 'x=***', '--user', 'u']


def test_secrets_never_reach_errors_or_logs(caplog):
    caplog.set_level(logging.DEBUG, logger='blockstore.common.processutils')
    secret = 'Hunter2Hunter2'
    with pytest.raises(exception.ProcessExecutionError) as info:
        processutils.execute('sh', '-c', 'echo "bad secret %s" >&2; exit 1' % secret,
                             secrets=(secret,))
    assert secret not in str(info.value)
    assert secret not in info.value.stderr and secret not in info.value.cmd
    assert secret not in caplog.text
    assert '***' in caplog.text


def test_failures_can_be_kept_out_of_the_warning_log(caplog):
    caplog.set_level(logging.WARNING, logger='blockstore.common.processutils')
    with pytest.raises(exception.ProcessExecutionError):
        processutils.execute('false', log_errors=False)
    assert caplog.text == ''
