# Shared helpers for scripts/*. Source it: `. "$(dirname "$0")/lib.sh"`.

# Print a section header.
section() {
    printf '\n==> %s\n' "$*"
}

# Run "$@" as root: directly when we are root, else through sudo.
as_root() {
    if [ "$(id -u)" -eq 0 ]; then
        "$@"
    elif command -v sudo >/dev/null 2>&1; then
        sudo "$@"
    else
        echo "error: need root (or sudo) to run: $*" >&2
        return 1
    fi
}

# Install the given Debian packages if any of them is missing (apt-get update first).
ensure_debian_packages() {
    local missing=() pkg
    for pkg in "$@"; do
        if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed'; then
            missing+=("$pkg")
        fi
    done
    if [ "${#missing[@]}" -eq 0 ]; then
        return 0
    fi
    if ! command -v apt-get >/dev/null 2>&1; then
        echo "error: missing packages ${missing[*]} and no apt-get to install them" >&2
        return 1
    fi
    echo "installing Debian packages: ${missing[*]}"
    as_root env DEBIAN_FRONTEND=noninteractive apt-get update -q
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}"
}

# Stock NUT 2.8.0 as the tests use it, with certutil (libnss3-tools) for the NSS database
# stock upsd needs for STARTTLS.
ensure_stock_nut() {
    ensure_debian_packages nut-server nut-client python3-nut libnss3-tools
}
