# SPDX-License-Identifier: Apache-2.0
# funkd web UI end to end: strict static serving and headers (mode "http"), then the page in a real
# headless Chromium (mode "browser"): list, deploy, invoke, logs, graphs, escaping, auth.
import base64
import os
import re
import shutil
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from gwlib import ELF, Funkd, check, done, need_kvm, skip, wait_for  # noqa: E402

MODE = sys.argv[1] if len(sys.argv) > 1 else "browser"
ARTIFACTS = os.environ.get("UI_ARTIFACTS") or tempfile.mkdtemp(prefix="funk-ui-")
# What a function's name, label or log line might try: if any of it became markup, an <img>
# element would appear in the document (and its handler set window.__pwned, CSP permitting).
EVIL = '<img src=x onerror="window.__pwned=1">'

need_kvm()

# python3-selenium is Debian's: where python3 on PATH is another interpreter (pyenv, a venv)
# that lacks it, run this test under /usr/bin/python3 instead.
if MODE == "browser" and os.environ.get("UI_REEXEC") != "1":
    try:
        import selenium  # noqa: F401
    except ImportError:
        sysp = "/usr/bin/python3"
        if os.path.exists(sysp) and os.path.realpath(sysp) != os.path.realpath(sys.executable):
            os.environ["UI_REEXEC"] = "1"
            print("note: selenium is not importable by %s; running under %s" % (sys.executable, sysp), flush=True)
            os.execv(sysp, [sysp] + sys.argv)


def auth_funkd():
    a = Funkd("--auth")
    sec = os.path.join(a.tmp.name, "sec")
    os.makedirs(sec)
    with open(os.path.join(sec, "basic-auth-user"), "w") as f:
        f.write("admin\n")
    with open(os.path.join(sec, "basic-auth-password"), "w") as f:
        f.write("s3cret\n")
    a.args += ["--secrets-dir", sec]
    a.auth = "admin:s3cret"
    return a


def http_checks():
    with Funkd() as gw:
        st, h, _ = gw.req("GET", "/")
        check(st == 302 and h.get("location") == "/ui/", "GET / redirects to /ui/", (st, h))
        st, h, _ = gw.req("GET", "/ui")
        check(st == 302 and h.get("location") == "/ui/", "GET /ui redirects to /ui/", (st, h))
        pages = {}
        for path, ctype in [("/ui/", "text/html"), ("/ui/index.html", "text/html"),
                            ("/ui/app.js", "text/javascript"), ("/ui/style.css", "text/css"),
                            ("/ui/favicon.svg", "image/svg+xml")]:
            st, h, b = gw.req("GET", path)
            pages[path] = (h, b)
            csp = h.get("content-security-policy", "")
            check(st == 200 and h.get("content-type", "").startswith(ctype) and len(b) > 100 - 80 * path.endswith(".svg")
                  and "script-src 'self'" in csp and "unsafe-inline" not in csp
                  and "frame-ancestors 'none'" in csp and h.get("x-content-type-options") == "nosniff"
                  and h.get("etag", "").startswith('"') and h.get("cache-control") == "no-cache",
                  "GET %s: %s with CSP, nosniff, ETag" % (path, ctype), (st, h))
        html = pages["/ui/"][1].decode()
        inline = (re.findall(r"<script(?![^>]*\ssrc=)[^>]*>", html) + re.findall(r"<[^>]*\son[a-z]+\s*=[^>]*>", html)
                  + re.findall(r"<[^>]*\sstyle\s*=[^>]*>", html))
        check("<script" in html and not inline, "index.html has no inline script, handler or style attributes", inline)
        etag = pages["/ui/app.js"][0]["etag"]
        st, h, b = gw.req("GET", "/ui/app.js", headers={"If-None-Match": etag})
        check(st == 304 and b == b"" and h.get("etag") == etag, "If-None-Match with the ETag: 304", (st, h))
        st, h, b = gw.req("HEAD", "/ui/app.js")
        check(st == 200 and b == b"", "HEAD /ui/app.js", (st, b[:50]))
        # only the embedded names, byte for byte
        for bad in ["/ui/nope.html", "/ui/../system/info", "/ui/%2e%2e/system/info", "/ui//app.js",
                    "/ui/app.js/", "/ui/APP.JS", "/ui/app.js%00", "/ui/app%2ejs", "/ui/embed.py",
                    "/ui/meson.build", "/ui/./app.js", "/ui/..%2fgateway%2fui.c", "/uix", "/ui.js"]:
            st, h, b = gw.req("GET", bad)
            check(st == 404 and b"<" not in b, "GET %s: 404" % bad, (st, b[:80]))
        st, h, _ = gw.req("POST", "/ui/", "x")
        check(st == 405 and "GET" in h.get("allow", ""), "POST /ui/: 405 with Allow", (st, h))
        st, _, _ = gw.req("GET", "/system/functions")
        check(st == 200, "the API still answers beside the UI")
    with auth_funkd() as a:
        for path in ["/", "/ui", "/ui/", "/ui/app.js", "/ui/nope"]:
            st, h, _ = a.req("GET", path, auth=False)
            check(st == 401 and h.get("www-authenticate", "").startswith("Basic"),
                  "with --auth, %s without credentials: 401" % path, (st, h))
        st, _, b = a.req("GET", "/ui/", headers={"Authorization": "Basic " + base64.b64encode(b"admin:wrong").decode()})
        check(st == 401, "with --auth, /ui/ with a wrong password: 401", st)
        st, _, b = a.req("GET", "/ui/")
        check(st == 200 and b"app.js" in b, "with --auth, /ui/ with credentials: 200", st)


# ---- the browser -------------------------------------------------------------------------------

def find_browser():
    """(webdriver module, Service class, chromium path, chromedriver path), or a skip (77) that
    says what is missing: checked before any funkd starts."""
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError as e:
        skip("python3-selenium is not installed (%s): apt-get install python3-selenium" % e)
    chrome = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
    driver = shutil.which("chromedriver")
    if not chrome or not driver:
        skip("chromium and chromium-driver are needed (found browser %s, driver %s)" % (chrome, driver))
    return webdriver, Service, chrome, driver


def browser(profile):
    """A headless Chromium under Selenium, or a skip (77) that says why it would not start."""
    webdriver, Service, chrome, driver = find_browser()
    opts = webdriver.ChromeOptions()
    opts.binary_location = chrome
    for a in ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
              "--user-data-dir=" + profile, "--window-size=1400,1800", "--no-first-run",
              "--disable-extensions", "--disable-background-networking", "--disable-sync",
              "--disable-component-update", "--remote-debugging-pipe"]:
        opts.add_argument(a)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})  # console: CSP violations
    errs = []
    for attempt in range(2):  # a loaded machine may miss chromedriver's start-up window once
        try:
            d = webdriver.Chrome(service=Service(driver, log_path=os.path.join(ARTIFACTS, "chromedriver.log")),
                                 options=opts)
            d.set_page_load_timeout(20)
            d.set_script_timeout(20)
            return d
        except Exception as e:  # selenium raises many kinds; all mean "no browser"
            errs.append(str(e).strip().splitlines()[0] if str(e).strip() else repr(e))
    skip("headless Chromium does not start here: " + " | ".join(errs))


def shot(d, name):
    p = os.path.join(ARTIFACTS, "ui-%s.png" % name)
    try:
        d.save_screenshot(p)
        print("screenshot: " + p, flush=True)
    except Exception as e:
        print("screenshot %s failed: %s" % (p, e), flush=True)


def js(d, script, *args):
    return d.execute_script(script, *args)


def wait_js(d, script, timeout=15.0):
    return wait_for(lambda: js(d, script), timeout, 0.1)


def set_value(d, elem_id, value):
    # the value as a property (no key events: newlines and '<' arrive as they are)
    js(d, "const e = document.getElementById(arguments[0]); e.value = arguments[1];"
          "e.dispatchEvent(new Event('change'));", elem_id, value)


def submit(d, form_id):
    js(d, "document.getElementById(arguments[0]).requestSubmit()", form_id)


def invoke_from_page(d, fn, path, body, headers=""):
    js(d, "document.getElementById('i-status').textContent = ''")
    set_value(d, "i-fn", fn)
    set_value(d, "i-method", "POST")
    set_value(d, "i-path", path)
    set_value(d, "i-headers", headers)
    set_value(d, "i-body", body)
    submit(d, "invoke")
    return wait_js(d, "const s = document.getElementById('i-status').textContent;"
                      "return s && s !== '...' ? s : null") or ""


def colored_pixels(d, canvas_id, rgb):
    """How many pixels of the canvas are close to the colour rgb (what the line and dots draw)."""
    return js(d, """
        const c = document.getElementById(arguments[0]), [r, g, b] = arguments[1];
        const px = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
        let n = 0;
        for (let i = 0; i < px.length; i += 4)
          if (px[i + 3] > 200 && Math.abs(px[i] - r) < 40 && Math.abs(px[i + 1] - g) < 40 && Math.abs(px[i + 2] - b) < 40) n++;
        return n;""", canvas_id, rgb)


def browser_checks():
    find_browser()
    profile = tempfile.mkdtemp(prefix="funk-ui-chrome-")
    d = None
    try:
        with Funkd() as gw:
            gw.deploy("ui-echo", ELF["echo"], labels={"team": "web"})
            d = browser(profile)
            t0 = time.time()
            d.get(gw.url() + "/")
            check(d.current_url.endswith("/ui/"), "the browser follows / to /ui/", d.current_url)
            listed = wait_js(d, "return [...document.querySelectorAll('#functions tr.fn-row')].map(r => r.dataset.name)")
            check(listed == ["ui-echo"], "the list shows the deployed function", listed)
            check(wait_js(d, "return document.getElementById('conn').textContent === 'live'"),
                  "the page says it is live")
            row = js(d, "return document.querySelector('#functions tr.fn-row').textContent")
            check("team=web" in row and ELF["echo"] in row, "the row shows image and labels", row)
            shot(d, "list")

            # deploy a second function from the form (gwtest: echoes bodies, logs /log bodies);
            # a label carries markup that must stay text
            set_value(d, "d-name", "ui-gw")
            set_value(d, "d-image", ELF["gwtest"])
            set_value(d, "d-env", "GREETING=hi there")
            set_value(d, "d-labels", "owner=" + EVIL)
            submit(d, "deploy")
            res = wait_js(d, "const t = document.getElementById('d-result').textContent;"
                             "return t.startsWith('deployed') || t.startsWith('HTTP') ? t : null")
            check((res or "").startswith("deployed ui-gw"), "the deploy form deploys", res)
            st = gw.status("ui-gw")
            check(st is not None and st["image"] == ELF["gwtest"] and st["envVars"] == {"GREETING": "hi there"}
                  and st["labels"] == {"owner": EVIL}, "funkd got the form's image, env and labels", st)
            listed = wait_js(d, "const n = [...document.querySelectorAll('#functions tr.fn-row')].map(r => r.dataset.name);"
                                "return n.length === 2 ? n : null")
            check(listed == ["ui-echo", "ui-gw"], "the list shows both functions", listed)

            # a name with markup is refused by funkd; the error is shown as text
            set_value(d, "d-name", EVIL)
            set_value(d, "d-labels", "")
            submit(d, "deploy")
            res = wait_js(d, "const t = document.getElementById('d-result').textContent;"
                             "return t.startsWith('HTTP') ? t : null")
            check((res or "").startswith("HTTP 400"), "a name with markup: 400 shown", res)

            # invoke from the page: body, header, status, headers, timing
            status = invoke_from_page(d, "ui-gw", "/", "hello from the browser", "X-Test-Header: abc")
            check(status.startswith("200"), "invoke from the page: status 200", status)
            out = js(d, "return document.getElementById('i-resp').textContent")
            check(out == "hello from the browser", "the page shows the echoed body", out)
            hdrs = js(d, "return [...document.querySelectorAll('#i-headers-out tr')].map(r => r.textContent)")
            check(any(h.lower().startswith("x-gwtest") for h in hdrs)
                  and any(h.lower().startswith("x-duration-seconds") for h in hdrs),
                  "the page shows the response headers", hdrs)
            timing = js(d, "return document.getElementById('i-time').textContent")
            check("ms round trip" in timing and "in the function" in timing, "the page shows the timing", timing)
            status = invoke_from_page(d, "ui-echo", "/path?q=1", "to echo")
            out = js(d, "return document.getElementById('i-resp').textContent")
            hdrs = js(d, "return [...document.querySelectorAll('#i-headers-out tr')].map(r => r.textContent)")
            check(status.startswith("200") and out == "to echo" and any("/path" in h for h in hdrs),
                  "invoke echo with a path and query", (status, out, hdrs))
            shot(d, "invoke")

            # logs: gwtest writes /log bodies to its console; markup stays text
            set_value(d, "l-select", "ui-gw")
            marker = "ui-log-%d" % os.getpid()
            status = invoke_from_page(d, "ui-gw", "/log", marker + " " + EVIL + "\n")
            check(status.startswith("200"), "invoke /log: 200", status)
            line = wait_js(d, "const l = [...document.querySelectorAll('#logs .logline .text')]"
                              ".map(e => e.textContent).find(t => t.includes(arguments[0])); return l || null"
                           .replace("arguments[0]", repr(marker)))
            check(line and EVIL in line, "the log line appears, markup as text", line)
            check(js(d, "return document.querySelectorAll('#logs .logline').length") >= 1, "logs list lines")

            # graphs: samples every 2 s (and after each invocation); the chosen function's
            # invocations between samples draw points
            set_value(d, "m-fn", "ui-echo")
            for i in range(3):
                invoke_from_page(d, "ui-echo", "/", "tick %d" % i)
            ok = wait_js(d, "return +document.getElementById('chart-rate').dataset.points >= 2 &&"
                            " +document.getElementById('chart-latency').dataset.points >= 1", 15)
            pts = js(d, "return ['chart-rate', 'chart-latency', 'chart-replicas']"
                        ".map(i => +document.getElementById(i).dataset.points)")
            check(ok, "the graphs hold points (rate, latency, replicas)", pts)
            blue, red = colored_pixels(d, "chart-rate", [31, 111, 235]), colored_pixels(d, "chart-latency", [209, 36, 47])
            check(blue > 20 and red > 5, "the points are drawn on the canvases", (blue, red))
            counted = wait_for(lambda: js(d, "return +document.querySelector('#functions tr[data-name=\"ui-echo\"]"
                                             " .invocations').textContent >= 4"), 10)
            inv = js(d, "return document.querySelector('#functions tr[data-name=\"ui-echo\"] .invocations').textContent")
            lat = js(d, "return document.querySelector('#functions tr[data-name=\"ui-echo\"] .latency').textContent")
            check(counted and re.fullmatch(r"[0-9.]+ m?s", lat), "the list shows invocations and latency", (inv, lat))
            shot(d, "metrics")

            # nothing from a function became markup
            imgs = js(d, "return document.querySelectorAll('img').length")
            pwned = js(d, "return window.__pwned === undefined ? null : window.__pwned")
            labels = js(d, "return document.querySelector('#functions tr[data-name=\"ui-gw\"] .labels').textContent")
            check(imgs == 0 and pwned is None and EVIL in labels,
                  "markup in labels, logs and errors stays text (no <img> in the page)", (imgs, pwned, labels))
            logs = d.get_log("browser") if hasattr(d, "get_log") else []
            csp = [x for x in logs if "Content Security Policy" in x.get("message", "")]
            check(not csp, "the page runs under its CSP without violations", csp)
            uncaught = [x for x in logs if "Uncaught" in x.get("message", "")]
            check(not uncaught, "no uncaught script error in the console", uncaught)
            print("browser part took %.1f s" % (time.time() - t0), flush=True)
            d.quit()
            d = None

        # with --auth: the page needs credentials, and its own fetches carry them
        with auth_funkd() as a:
            a.deploy("ui-auth", ELF["echo"])
            d = browser(profile + "-auth")
            d.get(a.url() + "/ui/")
            # headless Chromium leaves the 401 page blank (it would ask for a password)
            check(not js(d, "return !!document.getElementById('functions')"),
                  "with --auth, the browser without credentials gets no page", d.page_source[:300])
            d.get("http://admin:s3cret@127.0.0.1:%d/ui/" % a.port)
            listed = wait_js(d, "return [...document.querySelectorAll('#functions tr.fn-row')].map(r => r.dataset.name)")
            check(listed == ["ui-auth"], "with --auth and credentials, the page lists functions", listed)
            status = invoke_from_page(d, "ui-auth", "/", "authed")
            check(status.startswith("200"), "with --auth, the page invokes", status)
            shot(d, "auth")
            d.quit()
            d = None
    finally:
        if d is not None:
            shot(d, "failure")
            try:
                d.quit()
            except Exception:
                pass
        shutil.rmtree(profile, ignore_errors=True)
        shutil.rmtree(profile + "-auth", ignore_errors=True)


os.makedirs(ARTIFACTS, exist_ok=True)
print("artifacts (screenshots, chromedriver log): " + ARTIFACTS, flush=True)
if MODE == "http":
    http_checks()
else:
    browser_checks()
done()
