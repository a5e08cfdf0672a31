"""Real ITFlow on this machine: both API generations, served by PHP from a private MariaDB.

What it does, as root:

* installs the Debian packages ITFlow needs, once (``dpkg -s`` decides);
* unpacks each ITFlow snapshot (``<repo>/../shared/itflow/*.tar.gz``) once into
  ``CACHE_DIR/trees/<name>-<hash>/`` under a lock, and reuses it on later runs;
* per session: a hard-linked copy of each tree (its own ``config.php``), a
  private MariaDB (own datadir and socket, ``--skip-networking``), fresh
  databases set up the way ITFlow does it (current: ``scripts/setup_cli.php``;
  legacy: ``db.sql`` plus the rows its web setup would write), API keys, the
  contract dataset, and ``php -S`` servers on free loopback ports:
  the JSON API, and the legacy ``/api.php`` three ways (PHP 8.2 defaults,
  ``display_errors=On``, PHP <= 8.0 behaviour via ``mysqli_report(MYSQLI_REPORT_OFF)``).

Nothing here touches the system MariaDB or any web server.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import tarfile
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, Iterable, List, Optional, Sequence, Tuple

from sockets import free_port  # php -S cannot pick its own port

REPO_ROOT = Path(__file__).resolve().parents[2]
SNAPSHOT_DIR = Path(os.environ.get("ITFLOW_SNAPSHOT_DIR", str(REPO_ROOT.parent / "shared" / "itflow")))
CACHE_DIR = Path(os.environ.get("ITFLOW_REAL_CACHE_DIR", "/var/cache/itflow-bridge-real-itflow"))
PACKAGES = ("mariadb-server", "php-cli", "php-mysql", "php-mbstring", "php-curl", "php-intl",
            "php-xml", "php-zip", "php-gd")
SNAPSHOT_PATTERNS = {"v1": "itflow-current-*.tar.gz", "legacy": "itflow-legacy-*.tar.gz"}

LEGACY_VARIANTS = ("php82", "display_errors", "php80")
DB_USER = "itflow"
ADMIN_NAME = "Lab Admin"
ADMIN_PASSWORD = "lab-admin-password-1"
KEY_PASSWORD = "lab-key-password-1"
# The wrong decrypt passwords the tests send.  ITFlow unwraps the key's master key with
# openssl_decrypt, which with a wrong key fails (false) only when the padding check fails:
# about 255 times in 256, otherwise it returns garbage that then serves as the key.  The
# key's decrypt hash is made again until each of these fails, so their answers never
# depend on that chance (see _CREATE_KEYS_PHP).
WRONG_DECRYPT_PASSWORDS = ("wrong", "another wrong one", "x", "decrypt")
LEGACY_DB = "itflow"  # the name PHP's error messages show, as on a typical install
V1_DB = "itflow_current"
FAR_FUTURE = "2099-12-31"
PAST = "2020-01-01"
START_TIMEOUT = 30.0


class Unavailable(Exception):
    """This machine cannot run real ITFlow (no snapshots, not root)."""


def snapshots(directory: Path = SNAPSHOT_DIR) -> Dict[str, Path]:
    """``{"v1": tarball, "legacy": tarball}``, or Unavailable naming what is missing."""
    found = {}
    for generation, pattern in SNAPSHOT_PATTERNS.items():
        matches = sorted(directory.glob(pattern)) if directory.is_dir() else []
        if not matches:
            raise Unavailable("ITFlow snapshot %s not found in %s (the real-ITFlow tier needs both "
                              "snapshots there)" % (pattern, directory))
        found[generation] = matches[-1]
    return found


def check_available() -> Dict[str, Path]:
    found = snapshots()
    if os.geteuid() != 0:
        raise Unavailable("the real-ITFlow tier needs root (Debian packages, a private MariaDB)")
    return found


def unavailable_reason() -> Optional[str]:
    """Why this machine cannot run the tier, or None."""
    try:
        check_available()
    except Unavailable as error:
        return str(error)
    return None


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


# --- packages and trees ---------------------------------------------------------------


def _run(cmd: Sequence[str], **kwargs) -> subprocess.CompletedProcess:
    kwargs.setdefault("check", True)
    kwargs.setdefault("stdout", subprocess.PIPE)
    kwargs.setdefault("stderr", subprocess.STDOUT)
    try:
        return subprocess.run(list(cmd), **kwargs)
    except subprocess.CalledProcessError as error:
        output = error.stdout.decode("utf-8", "replace") if isinstance(error.stdout, bytes) else error.stdout
        raise RuntimeError("%s failed (exit %d):\n%s" % (" ".join(cmd), error.returncode,
                                                          (output or "")[-3000:])) from error


class _Lock:
    def __init__(self, path: Path):
        path.parent.mkdir(parents=True, exist_ok=True)
        self._path = path

    def __enter__(self):
        self._handle = open(self._path, "a")
        fcntl.flock(self._handle, fcntl.LOCK_EX)
        return self

    def __exit__(self, *exc):
        fcntl.flock(self._handle, fcntl.LOCK_UN)
        self._handle.close()


def ensure_packages(packages: Iterable[str] = PACKAGES) -> List[str]:
    """Install what is missing (``apt-get update`` once first); the list installed."""
    missing = [name for name in packages
               if subprocess.run(["dpkg", "-s", name], stdout=subprocess.DEVNULL,
                                 stderr=subprocess.DEVNULL).returncode != 0]
    if missing:
        with _Lock(CACHE_DIR / "locks" / "apt.lock"):
            env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
            _run(["apt-get", "update", "-q"], env=env)
            _run(["apt-get", "install", "-y", "-q", "--no-install-recommends", *missing], env=env)
    return missing


def _file_hash(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()[:12]


def unpacked_tree(tarball: Path) -> Path:
    """The snapshot's ``itflow/`` directory, unpacked once per tarball name and content."""
    stem = tarball.name[:-len(".tar.gz")] if tarball.name.endswith(".tar.gz") else tarball.stem
    target = CACHE_DIR / "trees" / ("%s-%s" % (stem, _file_hash(tarball)))
    done = target / ".unpacked"
    if done.exists():
        return target / "itflow"
    with _Lock(CACHE_DIR / "locks" / "unpack.lock"):
        if done.exists():
            return target / "itflow"
        if target.exists():
            shutil.rmtree(target)
        target.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=".unpack-", dir=target.parent))
        with tarfile.open(tarball) as archive:
            archive.extractall(staging)
        if not (staging / "itflow").is_dir():
            raise RuntimeError("%s does not unpack to itflow/" % tarball)
        (staging / ".unpacked").write_text(tarball.name + "\n")
        staging.rename(target)
    return target / "itflow"


def session_copy(tree: Path, destination: Path) -> Path:
    """A hard-linked copy: instant, and the cached tree stays pristine (new files only)."""
    _run(["cp", "-al", str(tree), str(destination)])
    stale = destination / "config.php"
    if stale.exists():
        stale.unlink()
    return destination


# --- processes --------------------------------------------------------------------------


def _wait_for(predicate, timeout: float, what: str, process: Optional[subprocess.Popen] = None,
              log: Optional[Path] = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        if process is not None and process.poll() is not None:
            break
        time.sleep(0.05)
    tail = log.read_text(errors="replace")[-2000:] if log is not None and log.exists() else ""
    raise RuntimeError("%s did not come up%s\n%s" % (
        what, "" if process is None or process.poll() is None else " (exit %s)" % process.returncode, tail))


def _stop(process: Optional[subprocess.Popen], timeout: float = 10.0) -> None:
    if process is None or process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(5)


class MariaDB:
    """A private mariadbd: own datadir and unix socket, no TCP at all."""

    def __init__(self, root: Path):
        self.root = root
        self.datadir = root / "data"
        self.socket = root / "mysqld.sock"
        self.log = root / "mysqld.err"
        self.process: Optional[subprocess.Popen] = None

    def start(self) -> "MariaDB":
        self.root.mkdir(parents=True, exist_ok=True)
        _run(["mariadb-install-db", "--no-defaults", "--datadir=%s" % self.datadir, "--user=root",
              "--auth-root-authentication-method=socket", "--skip-test-db"])
        self.process = subprocess.Popen(
            ["mariadbd", "--no-defaults", "--datadir=%s" % self.datadir, "--socket=%s" % self.socket,
             "--pid-file=%s" % (self.root / "mysqld.pid"), "--skip-networking", "--user=root",
             "--log-error=%s" % self.log, "--innodb-buffer-pool-size=64M", "--skip-log-bin",
             "--character-set-server=utf8mb4", "--collation-server=utf8mb4_general_ci"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            start_new_session=True)
        _wait_for(self.ping, START_TIMEOUT, "private MariaDB", self.process, self.log)
        return self

    def ping(self) -> bool:
        return subprocess.run(["mysqladmin", "--no-defaults", "--socket=%s" % self.socket, "-uroot", "ping"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode == 0

    def sql(self, statements: str, database: str = "", raw: bool = False) -> str:
        """The output of ``statements``: tab-separated, no column names; ``raw``: values unescaped."""
        cmd = ["mariadb", "--no-defaults", "--socket=%s" % self.socket, "-uroot", "--batch", "--skip-column-names",
               "--default-character-set=utf8mb4"] + (["--raw"] if raw else [])
        if database:
            cmd.append(database)
        done = subprocess.run(cmd, input=statements.encode("utf-8"), stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE)
        if done.returncode != 0:
            raise RuntimeError("SQL failed: %s\n%s" % (done.stderr.decode("utf-8", "replace"), statements[:2000]))
        return done.stdout.decode("utf-8")

    def load(self, sql_file: Path, database: str) -> None:
        self.sql(sql_file.read_text(encoding="utf-8"), database)

    def create_database(self, name: str, password: str) -> None:
        self.sql("CREATE DATABASE `%s` CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci;\n"
                 "CREATE USER IF NOT EXISTS '%s'@'localhost' IDENTIFIED BY '%s';\n"
                 "GRANT ALL ON `%s`.* TO '%s'@'localhost';\n" % (name, DB_USER, password, name, DB_USER))

    def tables(self, database: str) -> List[str]:
        return self.sql("SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = '%s' "
                        "AND TABLE_TYPE = 'BASE TABLE' ORDER BY TABLE_NAME;" % database).split()

    def copy_database(self, source: str, target: str) -> None:
        """``target`` as a copy of ``source`` (tables, foreign keys, rows); the ITFlow user may use it."""
        self.sql("CREATE DATABASE `%s` CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci;\n"
                 "GRANT ALL ON `%s`.* TO '%s'@'localhost';\n" % (target, target, DB_USER))
        dump = _run(["mariadb-dump", "--no-defaults", "--socket=%s" % self.socket, "-uroot", "--skip-comments",
                     source], stderr=subprocess.PIPE).stdout
        _run(["mariadb", "--no-defaults", "--socket=%s" % self.socket, "-uroot", target], input=dump)

    def table_states(self, database: str) -> Dict[str, Tuple[str, str]]:
        """Each table's (checksum of its rows, next AUTO_INCREMENT): equal states, equal tables."""
        tables = self.tables(database)
        checksums = self.sql("CHECKSUM TABLE %s;" % ", ".join("`%s`.`%s`" % (database, t) for t in tables))
        counters = self.sql("SELECT TABLE_NAME, IFNULL(AUTO_INCREMENT, '') FROM information_schema.TABLES "
                            "WHERE TABLE_SCHEMA = '%s' AND TABLE_TYPE = 'BASE TABLE';" % database)
        next_ids = dict(line.split("\t") for line in counters.splitlines())
        states = {}
        for line in checksums.splitlines():
            qualified, checksum = line.split("\t")
            table = qualified.split(".", 1)[1]
            states[table] = (checksum, next_ids.get(table, ""))
        return states

    def stop(self) -> None:
        _stop(self.process, 30.0)


@dataclass
class PhpServer:
    name: str
    tree: Path
    ini: Tuple[str, ...]
    log: Path
    port: int = 0
    process: Optional[subprocess.Popen] = None

    @property
    def url(self) -> str:
        return "http://127.0.0.1:%d" % self.port

    def start(self) -> "PhpServer":
        for _attempt in range(5):
            self.port = self.port or free_port()
            cmd = ["php"]
            for setting in self.ini:
                cmd += ["-d", setting]
            cmd += ["-S", "127.0.0.1:%d" % self.port, "-t", str(self.tree)]
            with self.log.open("ab") as log:
                self.process = subprocess.Popen(cmd, cwd=str(self.tree), stdin=subprocess.DEVNULL, stdout=log,
                                                stderr=subprocess.STDOUT, start_new_session=True)
            try:
                _wait_for(self._listening, 10.0, "php -S for %s" % self.name, self.process, self.log)
                return self
            except RuntimeError:
                if self.process.poll() is None:
                    raise
                self.port = 0  # the port was taken meanwhile: another one
        raise RuntimeError("php -S for %s could not listen" % self.name)

    def _listening(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                return True
        except OSError:
            return False

    def stop(self) -> None:
        _stop(self.process)


# --- SQL from the dataset ---------------------------------------------------------------


def sql_literal(value) -> str:
    if value is None:
        return "NULL"
    text = str(value)
    # Every control character escaped: the mariadb client would eat a CR before LF.
    for char, escaped in (("\\", "\\\\"), ("'", "\\'"), ("\0", "\\0"), ("\r", "\\r"), ("\n", "\\n")):
        text = text.replace(char, escaped)
    return "'%s'" % text


@dataclass
class Column:
    name: str
    nullable: bool
    has_default: bool
    data_type: str


def table_columns(db: MariaDB, database: str) -> Dict[str, List[Column]]:
    rows = db.sql("SELECT TABLE_NAME, COLUMN_NAME, IS_NULLABLE, COLUMN_DEFAULT IS NOT NULL OR EXTRA LIKE "
                  "'%%auto_increment%%', DATA_TYPE FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = '%s' "
                  "ORDER BY TABLE_NAME, ORDINAL_POSITION;" % database)
    tables: Dict[str, List[Column]] = {}
    for line in rows.splitlines():
        table, name, nullable, has_default, data_type = line.split("\t")
        tables.setdefault(table, []).append(Column(name, nullable == "YES", has_default == "1", data_type))
    return tables


def _filler(column: Column) -> str:
    """A value for a NOT NULL column without default that the dataset does not carry."""
    if column.name == "company_id":
        return "1"
    if column.data_type in ("datetime", "timestamp"):
        return "'2024-01-15 09:30:00'"
    if column.data_type == "date":
        return "'2024-01-15'"
    if column.data_type in ("int", "tinyint", "smallint", "bigint", "decimal", "float", "double"):
        return "0"
    return "''"


def insert_rows(table: str, rows: Iterable[dict], columns: Sequence[Column]) -> str:
    """INSERTs of the rows' values for the columns this schema has; required others filled."""
    statements = []
    for row in rows:
        names, values = [], []
        for column in columns:
            if column.name in row:
                names.append(column.name)
                values.append(sql_literal(row[column.name]))
            elif not column.nullable and not column.has_default:
                names.append(column.name)
                values.append(_filler(column))
        statements.append("INSERT INTO `%s` (%s) VALUES (%s);" % (
            table, ", ".join("`%s`" % name for name in names), ", ".join(values)))
    return "\n".join(statements) + "\n"


SEEDED_TABLES = ("clients", "contacts", "locations", "vendors", "invoices", "payments")


def dataset_sql(data: dict, columns: Dict[str, List[Column]], legacy: bool) -> str:
    """The dataset as ITFlow would hold it, plus what real ITFlow needs around it.

    Mapping beyond a plain copy: an account per currency paid into (payments point
    to it), a category for every invoice category id the invoices use (legacy has
    none by default), the invoice counter after the highest invoice number, and on
    legacy ``clients.primary_contact``/``primary_location`` (legacy has no
    ``contact_primary``/``location_primary`` columns: the client row points at them).
    """
    data = {table: [dict(row) for row in data.get(table) or []] for table in SEEDED_TABLES}
    statements = ["SET NAMES utf8mb4;", "SET FOREIGN_KEY_CHECKS = 0;"]
    currencies = sorted({p.get("payment_currency_code") or "USD" for p in data["payments"]})
    existing_accounts = 0 if legacy else 1  # current ITFlow's setup made a 'Cash' USD account
    account_of = {}
    for currency in currencies:
        if currency == "USD" and not legacy:
            account_of[currency] = 1
            continue
        existing_accounts += 1
        account_of[currency] = existing_accounts
        statements.append("INSERT INTO accounts SET account_id = %d, account_name = %s, "
                          "account_currency_code = %s, account_created_at = NOW()%s;" % (
                              existing_accounts, sql_literal("Bank %s" % currency), sql_literal(currency),
                              ", company_id = 1" if legacy else ""))
    for payment in data["payments"]:
        payment["payment_account_id"] = str(account_of[payment.get("payment_currency_code") or "USD"])
    if legacy:
        category_ids = sorted({int(i.get("invoice_category_id") or 0) for i in data["invoices"]} - {0})
        for category_id in category_ids:
            statements.append("INSERT INTO categories SET category_id = %d, category_name = 'Services', "
                              "category_type = 'Income', category_color = 'blue', category_created_at = NOW(), "
                              "company_id = 1;" % category_id)
        for client in data["clients"]:
            cid = str(client["client_id"])
            primary = next((c for c in data["contacts"] if str(c.get("contact_client_id")) == cid
                            and str(c.get("contact_primary")) == "1"), None)
            location = next((loc for loc in data["locations"] if str(loc.get("location_client_id")) == cid
                             and str(loc.get("location_primary")) == "1"), None)
            client["primary_contact"] = primary["contact_id"] if primary else None
            client["primary_location"] = location["location_id"] if location else None
    for table in SEEDED_TABLES:
        statements.append(insert_rows(table, data[table], columns[table]))
    numbers = [int(i["invoice_number"]) for i in data["invoices"]]
    statements.append("UPDATE settings SET config_invoice_next_number = %d WHERE company_id = 1;" % (
        max(numbers, default=0) + 1))
    return "\n".join(statements) + "\n"


# --- the two generations -------------------------------------------------------------------

_CREATE_KEYS_PHP = r"""<?php
// API keys made the way ITFlow's admin page makes them (admin/post/api_keys.php):
// api_key_decrypt_hash wraps the master key, unwrapped with the user's password.
chdir($argv[1]);
require_once "functions.php";
require_once "config.php";
// argv: tree, admin password, key password, wrong passwords (JSON), then name:secret:expire:user.
$row = mysqli_fetch_assoc(mysqli_query($mysqli, "SELECT user_id, user_specific_encryption_ciphertext FROM users ORDER BY user_id LIMIT 1"));
$master = decryptUserSpecificKey($row['user_specific_encryption_ciphertext'], $argv[2]);
$wrong = json_decode($argv[4]);
do {  // a fresh salt and IV until every wrong password fails to unwrap, as it does 255 times in 256
    $hash = setupFirstUserSpecificKey($argv[3], $master);
    $opens = array_filter($wrong, function ($password) use ($hash) {
        return decryptUserSpecificKey($hash, $password) !== false;
    });
} while ($opens);
foreach (array_slice($argv, 5) as $spec) {
    list($name, $secret, $expire, $user) = explode(':', $spec);
    $user_id = $user === 'admin' ? intval($row['user_id']) : intval($user);
    $name = mysqli_real_escape_string($mysqli, $name);
    $secret = mysqli_real_escape_string($mysqli, $secret);
    mysqli_query($mysqli, "INSERT INTO api_keys SET api_key_name = '$name', api_key_secret = '$secret', api_key_decrypt_hash = '$hash', api_key_expire = '$expire', api_key_user_id = $user_id");
}
"""

_SETTLE_CREDENTIALS_PHP = r"""<?php
// Every credential entry re-encrypted (same cleartext, same key, a new IV) until the other
// key fails to decrypt it.  A wrong decrypt password unwraps to false, so PHP uses an empty key;
// an entry under one key opened with the other fails the padding check about 255 times in
// 256 and otherwise decrypts to garbage.  Settled entries always fail: the answer is the
// one real ITFlow gives nearly always, and the one the fake gives every time.
// argv: tree, the key's decrypt password.
chdir($argv[1]);
require_once "functions.php";
require_once "config.php";
$key = mysqli_fetch_assoc(mysqli_query($mysqli, "SELECT api_key_decrypt_hash FROM api_keys WHERE api_key_name = 'bridge'"));
$keys = array(decryptUserSpecificKey($key['api_key_decrypt_hash'], $argv[2]), '');
$decrypt = function ($stored, $key) {  // what apiDecryptCredentialEntry() answers with this key
    return openssl_decrypt(substr($stored, 16), 'aes-128-cbc', $key, 0, substr($stored, 0, 16));
};
$open = function ($stored, $key) use ($decrypt) {  // the cleartext, or false (garbage is almost never UTF-8)
    $clear = $decrypt($stored, $key);
    return ($clear !== false && mb_check_encoding($clear, 'UTF-8')) ? $clear : false;
};
$rows = mysqli_query($mysqli, "SELECT credential_id, credential_username, credential_password FROM credentials");
while ($row = mysqli_fetch_assoc($rows)) {
    foreach (array('credential_username', 'credential_password') as $column) {
        $stored = (string) $row[$column];
        if (strlen($stored) <= 16) {
            continue;  // no ciphertext: every key fails alike
        }
        $opened = array_filter(array($open($stored, $keys[0]), $open($stored, $keys[1])), 'is_string');
        if (count($opened) != 1) {
            fwrite(STDERR, "credential $row[credential_id] $column opens under " . count($opened) . " keys
");
            exit(1);
        }
        $own = array_key_first($opened);
        while ($decrypt($stored, $keys[1 - $own]) !== false) {
            $iv = randomString();
            $stored = $iv . openssl_encrypt($opened[$own], 'aes-128-cbc', $keys[$own], 0, $iv);
        }
        if ($stored !== $row[$column]) {
            $escaped = mysqli_real_escape_string($mysqli, $stored);
            mysqli_query($mysqli, "UPDATE credentials SET $column = '$escaped' WHERE credential_id = " . intval($row['credential_id']));
        }
    }
}
"""

_LEGACY_CONFIG = """<?php
$dbhost = 'localhost';
$dbusername = %(user)s;
$dbpassword = %(password)s;
$database = %(database)s;
$mysqli = mysqli_connect($dbhost, $dbusername, $dbpassword, $database);
$config_app_name = 'ITFlow';
$config_base_url = %(base_url)s;
$config_https_only = FALSE;
$config_enable_setup = 0;
"""


def _php_string(value: str) -> str:
    return "'%s'" % value.replace("\\", "\\\\").replace("'", "\\'")


@dataclass
class Keys:
    good: str
    expired: str
    wrong: str
    not_tied: str = ""  # v1: api_key_user_id 0
    user_gone: str = ""  # v1: a user id that does not exist


def _new_keys(prefix: str) -> Keys:
    token = secrets.token_hex(8)
    return Keys(good="%s-good-%s" % (prefix, token), expired="%s-expired-%s" % (prefix, token),
                wrong="%s-wrong-%s" % (prefix, token), not_tied="%s-nouser-%s" % (prefix, token),
                user_gone="%s-gone-%s" % (prefix, token))


SCRATCH_SUFFIX = "_scratch"
TEMPLATE_SUFFIX = "_template"


@dataclass
class ScratchSite:
    """Real ITFlow of one generation on a database of its own, for tests that write.

    ``reset()`` puts the database back as it was after seeding: every table whose rows or
    AUTO_INCREMENT differ from the template copy is emptied and refilled from it (tens of
    milliseconds), so each test starts from the contract dataset and new ids are predictable.
    """

    generation: str
    db: MariaDB
    database: str
    template: str
    server: PhpServer
    keys: Keys

    @property
    def url(self) -> str:
        return self.server.url

    def reset(self) -> None:
        wanted = self.db.table_states(self.template)
        changed = [table for table, state in self.db.table_states(self.database).items()
                   if wanted.get(table) != state]
        if not changed:
            return
        statements = ["SET FOREIGN_KEY_CHECKS = 0;"]
        for table in changed:
            statements.append("TRUNCATE TABLE `%s`.`%s`;" % (self.database, table))
            statements.append("INSERT INTO `%s`.`%s` SELECT * FROM `%s`.`%s`;" % (
                self.database, table, self.template, table))
        self.db.sql("\n".join(statements))

    def rows(self, table: str, where: str = "1=1") -> List[Dict[str, Optional[str]]]:
        """The table's rows as mysqli hands them to PHP: strings, None for NULL, in primary-key order."""
        columns = [column.name for column in table_columns(self.db, self.database)[table]]
        select = ", ".join("CAST(`%s` AS CHAR)" % name for name in columns)
        text = self.db.sql("SELECT JSON_ARRAY(%s) FROM `%s` WHERE %s ORDER BY `%s`;" % (
            select, table, where, columns[0]), self.database, raw=True)
        return [dict(zip(columns, json.loads(line))) for line in text.splitlines()]

    def insert(self, table: str, rows: Iterable[dict]) -> None:
        """Rows as the contract dataset holds them (missing required columns are filled in)."""
        self.db.sql(insert_rows(table, rows, table_columns(self.db, self.database)[table]), self.database)

    def settle_credentials(self) -> None:
        """Credential entries that the key they were not encrypted with never opens (_SETTLE_CREDENTIALS_PHP).

        Whether a wrong key opens an entry depends on its random IV; after this, reading
        entries with either key answers the same on every run.
        """
        script = self.server.tree.parent / "settle_credentials.php"
        script.write_text(_SETTLE_CREDENTIALS_PHP, encoding="utf-8")
        _run(["php", "-d", "mysqli.default_socket=%s" % self.db.socket, str(script), str(self.server.tree),
              KEY_PASSWORD], stdin=subprocess.DEVNULL)


@dataclass
class RealITFlow:
    """Every real ITFlow server of one session; ``servers`` by name (``v1``, ``legacy-php82``, ...)."""

    data: dict
    root: Path = field(default_factory=Path)
    servers: Dict[str, PhpServer] = field(default_factory=dict)
    keys: Dict[str, Keys] = field(default_factory=dict)
    trees: Dict[str, Path] = field(default_factory=dict)
    db: Optional[MariaDB] = None
    timings: Dict[str, float] = field(default_factory=dict)
    scratch_sites: Dict[str, ScratchSite] = field(default_factory=dict)
    _db_password: str = ""

    def start(self) -> "RealITFlow":
        started = time.monotonic()
        tarballs = check_available()
        ensure_packages()
        self._mark("packages", started)
        pristine = {generation: unpacked_tree(tarball) for generation, tarball in tarballs.items()}
        self._mark("unpack", started)
        (CACHE_DIR / "run").mkdir(parents=True, exist_ok=True)
        self.root = Path(tempfile.mkdtemp(prefix="session-", dir=CACHE_DIR / "run"))
        try:
            self.trees = {generation: session_copy(tree, self.root / generation)
                          for generation, tree in pristine.items()}
            self.db = MariaDB(self.root / "mariadb").start()
            self._mark("mariadb", started)
            password = self._db_password = secrets.token_hex(12)
            self._start_v1(password)
            self._mark("v1", started)
            self._start_legacy(password)
            self._mark("legacy", started)
            for database in (V1_DB, LEGACY_DB):  # as seeded, before any request wrote a log row
                self.db.copy_database(database, database + TEMPLATE_SUFFIX)
            self._mark("templates", started)
        except BaseException:
            self.stop()
            raise
        return self

    def _mark(self, step: str, started: float) -> None:
        self.timings[step] = round(time.monotonic() - started, 2)

    def _php_ini(self) -> Tuple[str, ...]:
        return ("mysqli.default_socket=%s" % self.db.socket,)

    def _start_v1(self, password: str) -> None:
        tree = self.trees["v1"]
        self.db.create_database(V1_DB, password)
        server = PhpServer("v1", tree, self._php_ini(), self.root / "php-v1.log", port=free_port())
        _run(["php", "-d", "mysqli.default_socket=%s" % self.db.socket, "setup_cli.php",
              "--host=localhost", "--username=%s" % DB_USER, "--password=%s" % password,
              "--database=%s" % V1_DB, "--base-url=127.0.0.1:%d" % server.port, "--locale=en_US",
              "--timezone=UTC", "--currency=USD", "--company-name=Lab MSP", "--country=United States",
              "--user-name=%s" % ADMIN_NAME, "--user-email=admin@lab.example",
              "--user-password=%s" % ADMIN_PASSWORD, "--non-interactive"],
             cwd=str(tree / "scripts"), stdin=subprocess.DEVNULL)
        config = tree / "config.php"
        config.write_text(config.read_text(encoding="utf-8") + "$config_https_only = FALSE;\n", encoding="utf-8")
        keys = _new_keys("v1")
        script = self.root / "create_keys.php"
        script.write_text(_CREATE_KEYS_PHP, encoding="utf-8")
        _run(["php", "-d", "mysqli.default_socket=%s" % self.db.socket, str(script), str(tree), ADMIN_PASSWORD,
              KEY_PASSWORD, json.dumps(WRONG_DECRYPT_PASSWORDS), "bridge:%s:%s:admin" % (keys.good, FAR_FUTURE),
              "expired:%s:%s:admin" % (keys.expired, PAST),
              "no user:%s:%s:0" % (keys.not_tied, FAR_FUTURE),
              "user gone:%s:%s:424242" % (keys.user_gone, FAR_FUTURE)], stdin=subprocess.DEVNULL)
        self.db.sql(dataset_sql(self.data, table_columns(self.db, V1_DB), legacy=False), V1_DB)
        self.keys["v1"] = keys
        self.servers["v1"] = server.start()

    def _start_legacy(self, password: str) -> None:
        tree = self.trees["legacy"]
        self.db.create_database(LEGACY_DB, password)
        self.db.load(tree / "db.sql", LEGACY_DB)
        version = (tree / "database_version.php").read_text(encoding="utf-8")
        latest = version.split('"LATEST_DATABASE_VERSION",', 1)[1].split('"')[1]
        keys = _new_keys("legacy")
        # What legacy setup.php writes: company 1, its settings, the first user (admin, role 3).
        self.db.sql(
            "INSERT INTO companies SET company_id = 1, company_name = 'Lab MSP', company_country = 'United States', "
            "company_currency = 'USD', company_locale = 'en_US', company_created_at = NOW();\n"
            "INSERT INTO settings SET company_id = 1, config_current_database_version = %s, "
            "config_invoice_prefix = 'INV-', config_invoice_next_number = 1, config_recurring_prefix = 'REC-', "
            "config_recurring_next_number = 1, config_quote_prefix = 'QUO-', config_quote_next_number = 1, "
            "config_ticket_prefix = 'TCK-', config_ticket_next_number = 1, config_default_net_terms = 30;\n"
            "INSERT INTO users SET user_id = 1, user_name = 'Lab Admin', user_email = 'admin@lab.example', "
            "user_password = %s, user_specific_encryption_ciphertext = %s, user_created_at = NOW();\n"
            "INSERT INTO user_settings SET user_id = 1, user_default_company = 1, user_role = 3;\n"
            "INSERT INTO user_companies SET user_id = 1, company_id = 1;\n"
            "INSERT INTO api_keys SET api_key_name = 'bridge', api_key_secret = %s, api_key_created_at = NOW(), "
            "api_key_expire = %s, company_id = 1;\n"
            "INSERT INTO api_keys SET api_key_name = 'expired', api_key_secret = %s, api_key_created_at = NOW(), "
            "api_key_expire = %s, company_id = 1;\n" % (
                sql_literal(latest), sql_literal("$2y$10$" + "x" * 53), sql_literal(secrets.token_hex(16)),
                sql_literal(keys.good), sql_literal(FAR_FUTURE), sql_literal(keys.expired), sql_literal(PAST)),
            LEGACY_DB)
        self.db.sql(dataset_sql(self.data, table_columns(self.db, LEGACY_DB), legacy=True), LEGACY_DB)
        (tree / "config.php").write_text(_LEGACY_CONFIG % {
            "user": _php_string(DB_USER), "password": _php_string(password), "database": _php_string(LEGACY_DB),
            "base_url": _php_string("127.0.0.1")}, encoding="utf-8")
        prepend = self.root / "php80_mysqli_errors.php"
        prepend.write_text("<?php\n// PHP <= 8.0 behaviour: mysqli reports errors by return value, not exceptions\n"
                           "mysqli_report(MYSQLI_REPORT_OFF);\n", encoding="utf-8")
        extra = {"php82": (), "display_errors": ("display_errors=On",),
                 "php80": ("auto_prepend_file=%s" % prepend,)}
        self.keys["legacy"] = keys
        for variant in LEGACY_VARIANTS:
            name = "legacy-%s" % variant
            self.servers[name] = PhpServer(name, tree, self._php_ini() + extra[variant],
                                           self.root / ("php-%s.log" % name)).start()

    def scratch(self, generation: str) -> ScratchSite:
        """The generation's ``ScratchSite`` (PHP 8.2 defaults), started on first use."""
        if generation not in self.scratch_sites:
            source = V1_DB if generation == "v1" else LEGACY_DB
            database = source + SCRATCH_SUFFIX
            self.db.copy_database(source + TEMPLATE_SUFFIX, database)
            tree = session_copy(self.trees[generation], self.root / (generation + SCRATCH_SUFFIX))
            config = (self.trees[generation] / "config.php").read_text(encoding="utf-8")
            config = config.replace("$database = '%s';" % source, "$database = '%s';" % database)
            assert database in config, "no $database line in config.php"
            (tree / "config.php").write_text(config, encoding="utf-8")
            name = generation + SCRATCH_SUFFIX
            server = PhpServer(name, tree, self._php_ini(), self.root / ("php-%s.log" % name)).start()
            self.scratch_sites[generation] = ScratchSite(generation, self.db, database, source + TEMPLATE_SUFFIX,
                                                         server, self.keys[generation])
        return self.scratch_sites[generation]

    def stop(self) -> None:
        for site in self.scratch_sites.values():
            site.server.stop()
        for server in self.servers.values():
            server.stop()
        if self.db is not None:
            self.db.stop()
        if self.root and self.root != Path() and self.root.exists() and not os.environ.get("ITFLOW_REAL_KEEP"):
            shutil.rmtree(self.root, ignore_errors=True)
