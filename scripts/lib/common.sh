# Shared by scripts/run and scripts/test: install what is missing, say what happens.
# Sourced, not executed.

say() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }

# Debian packages the build needs on a fresh machine (a C toolchain for crates with C
# parts, pkg-config to find system libraries).
BUILD_PACKAGES=(build-essential pkg-config ca-certificates curl)
# The desktop app (Tauri 2) links the system web view (WebKitGTK) and libxdo.
DESKTOP_BUILD_PACKAGES=(libwebkit2gtk-4.1-dev libxdo-dev libssl-dev file)
# Its tests: a virtual display, the WebDriver bridge, pointer automation, a GTK drag
# source, a clipboard reader, a real Secret Service (GNOME Keyring in a private
# D-Bus session), and a notification daemon (dunst) that keeps what it showed.
DESKTOP_TEST_PACKAGES=(xvfb xauth xdotool webkit2gtk-driver python3-gi gir1.2-gtk-3.0
  gnome-keyring dbus-x11 libsecret-tools xclip dunst xdg-utils)

# apt_install PKG...: installs the packages that are not installed yet. Needs root; on
# a developer's own machine without root it says what is missing instead.
apt_install() {
  local missing=()
  for pkg in "$@"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" \
      || missing+=("$pkg")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  if [ "$(id -u)" -ne 0 ]; then
    say "please install: ${missing[*]} (e.g. sudo apt-get install ${missing[*]})"
    return 1
  fi
  say "installing ${missing[*]}"
  if [ -z "${IMAGEVAULT_APT_UPDATED:-}" ]; then
    DEBIAN_FRONTEND=noninteractive apt-get update -qq
    export IMAGEVAULT_APT_UPDATED=1
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
}

# ensure_rust: finds cargo (rustup installs it in ~/.cargo/bin).
ensure_rust() {
  if ! command -v cargo >/dev/null 2>&1; then
    [ -x "$HOME/.cargo/bin/cargo" ] && export PATH="$HOME/.cargo/bin:$PATH"
  fi
  if ! command -v cargo >/dev/null 2>&1; then
    say "cargo not found: install Rust 1.95 or newer with rustup (https://rustup.rs)"
    return 1
  fi
}

# port_open HOST PORT: whether something listens there (no client tools needed).
port_open() { (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null; }

# ensure_postgres: a PostgreSQL server on 127.0.0.1:5432 that the `postgres` user reaches
# without a password, as the tests expect (IMAGEVAULT_TEST_PG_URL overrides the address).
# Machines of this project's kind already run one; elsewhere it is installed and started.
ensure_postgres() {
  if [ -n "${IMAGEVAULT_TEST_PG_URL:-}" ] || port_open 127.0.0.1 5432; then
    return 0
  fi
  apt_install postgresql
  local version
  version=$(ls /etc/postgresql | sort -V | tail -n 1)
  local hba="/etc/postgresql/$version/main/pg_hba.conf"
  if ! grep -q "imagevault-tests" "$hba"; then
    say "allowing password-less loopback connections for tests in $hba"
    sed -i '1i host all postgres 127.0.0.1/32 trust # imagevault-tests' "$hba"
  fi
  say "starting PostgreSQL $version"
  pg_ctlcluster --skip-systemctl-redirect "$version" main start || true
  for _ in $(seq 30); do
    port_open 127.0.0.1 5432 && return 0
    sleep 1
  done
  say "PostgreSQL did not start on 127.0.0.1:5432"
  return 1
}

# The master key in a token: SoftHSM2 (a real PKCS#11 module; each test makes its own
# token in a temp folder) and OpenSC's pkcs11-tool, the independent client the tests
# inspect the token with.
HSM_TEST_PACKAGES=(softhsm2 opensc)

# s3s-fs: a real S3 protocol server over a folder, for the S3 backend's tests. Built
# once from crates.io into a cache outside the checkout; tests find it there (or via
# IMAGEVAULT_S3S_FS).
S3S_FS_VERSION=0.14.1
S3S_FS_ROOT=/var/cache/imagevault/tools
ensure_s3s_fs() {
    local bin="$S3S_FS_ROOT/bin/s3s-fs"
    if [[ -x "$bin" ]] && "$bin" --version 2>/dev/null | grep -q "$S3S_FS_VERSION"; then
        return
    fi
    say "installing s3s-fs $S3S_FS_VERSION (once)"
    mkdir -p "$S3S_FS_ROOT"
    CARGO_TARGET_DIR="$S3S_FS_ROOT/build" cargo install --locked --quiet \
        s3s-fs --version "$S3S_FS_VERSION" --features binary --root "$S3S_FS_ROOT"
    rm -rf "$S3S_FS_ROOT/build"
}

# The browser tests: Debian's Chromium driven by Playwright (playwright-core, axe-core
# from e2e/package-lock.json; no browser download), with the machine's Node.js or
# Debian's; and the single sign-on tests' OpenID Provider (oidc-provider, jose).
ensure_browser_tests() {
  apt_install chromium fonts-dejavu-core
  if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
    apt_install nodejs npm
  fi
  # playwright-core and oidc-provider 8 need Node.js 20 or newer (Debian 12's own is 18;
  # these machines carry 20).
  if [ "$(node -p 'process.versions.node.split(".")[0]')" -lt 20 ]; then
    say "Node.js $(node --version) is too old for playwright-core and oidc-provider: install Node.js 20 or newer"
    return 1
  fi
  say "installing the browser-test packages (npm ci in e2e/)"
  (cd e2e && npm ci --no-audit --no-fund --loglevel=error)
}

# schemathesis (PyPI) for the API's property-based test against its OpenAPI document.
SCHEMATHESIS_VERSION=4.32.5
ensure_schemathesis() {
  if python3 -m schemathesis.cli --version 2>/dev/null | grep -q "$SCHEMATHESIS_VERSION"; then
    return
  fi
  command -v python3 >/dev/null 2>&1 || apt_install python3
  python3 -m pip --version >/dev/null 2>&1 || apt_install python3-pip
  say "installing schemathesis $SCHEMATHESIS_VERSION"
  python3 -m pip install -q --root-user-action=ignore "schemathesis==$SCHEMATHESIS_VERSION" \
    || python3 -m pip install -q --break-system-packages "schemathesis==$SCHEMATHESIS_VERSION"
}

# install_tool CRATE VERSION: builds a tool from crates.io once into the tools cache
# beside s3s-fs, where the scripts and tests find it; a stamp file holds its version.
install_tool() {
  local crate=$1 version=$2
  if [[ -x "$S3S_FS_ROOT/bin/$crate" || -x "$S3S_FS_ROOT/bin/cargo-${crate%-cli}" ]] \
    && grep -qsx "$version" "$S3S_FS_ROOT/$crate.version"; then
    return
  fi
  say "installing $crate $version (once)"
  mkdir -p "$S3S_FS_ROOT"
  CARGO_TARGET_DIR="$S3S_FS_ROOT/build" cargo install --locked --quiet \
    "$crate" --version "$version" --root "$S3S_FS_ROOT"
  rm -rf "$S3S_FS_ROOT/build"
  echo "$version" > "$S3S_FS_ROOT/$crate.version"
}

# The desktop app's packages: the Tauri bundler (tauri-cli, the release matching the
# `tauri` crate in Cargo.lock). Its package test reads the .rpm with `rpm` and checks
# the desktop entry with desktop-file-validate.
TAURI_CLI_VERSION=2.12.3
PACKAGE_TEST_PACKAGES=(rpm desktop-file-utils)
ensure_tauri_cli() {
  install_tool tauri-cli "$TAURI_CLI_VERSION"
}

# The desktop app's end-to-end test drives the built app through tauri-driver.
TAURI_DRIVER_VERSION=2.1.0
ensure_desktop_tests() {
  apt_install "${DESKTOP_BUILD_PACKAGES[@]}" "${DESKTOP_TEST_PACKAGES[@]}"
  install_tool tauri-driver "$TAURI_DRIVER_VERSION"
}
