# The guest kernels of guest/kernels, for scripts/build-guest.sh and
# scripts/run-guest.sh (sourced; $top is the project's top directory).

# The kernels' names, the default first.
kernel_names() { awk '!/^#/ && NF { print $1 }' "$top/guest/kernels"; }
# kernel_field NAME N: column N of NAME's line (2 suite, 3 metapackage, 4 image).
kernel_field() { awk -v k="$1" -v n="$2" '!/^#/ && $1 == k { print $n }' "$top/guest/kernels"; }
# check_kernel PROG NAME: NAME is a kernel of the table, or PROG stops with
# the valid names (never falls back to another kernel).
check_kernel() {
	kernel_names | grep -qxF -- "$2" && return 0
	echo "$1: unknown guest kernel '$2' (valid: $(kernel_names | tr '\n' ' ' | sed 's/ $//'))" >&2
	exit 2
}
