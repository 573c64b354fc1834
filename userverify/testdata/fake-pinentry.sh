#!/bin/sh
# A fake pinentry speaking the Assuan protocol, for the pin method's tests.
# FAKE_PINENTRY_DIR holds "answers", one per GETPIN: a percent-escaped PIN,
# "cancel", "timeout", or "hang" (sleep with a child until killed). Every
# request received is appended to "log"; "hang" writes the PIDs of the
# pinentry and of its child to "pid" and "child".
dir=${FAKE_PINENTRY_DIR:?}
n=0
printf 'OK Pleased to meet you\n'
while IFS= read -r line; do
	printf '%s\n' "$line" >>"$dir/log"
	case $line in
	GETPIN)
		n=$((n + 1))
		answer=$(sed -n "${n}p" "$dir/answers")
		case $answer in
		cancel) printf 'ERR 83886179 Operation cancelled <Pinentry>\n' ;;
		timeout) printf 'ERR 83886142 Timeout <Pinentry>\n' ;;
		hang)
			sleep 30 &
			printf '%s\n' "$!" >"$dir/child"
			printf '%s\n' "$$" >"$dir/pid"
			wait
			;;
		*)
			printf '# a comment\nS PASSWORD_FROM_CACHE\n'
			printf 'D %s\nOK\n' "$answer"
			;;
		esac
		;;
	BYE)
		printf 'OK closing connection\n'
		exit 0
		;;
	*) printf 'OK\n' ;;
	esac
done
