# tidy.awk - scdoc's roff without its empty paragraphs.
#
# scdoc (1.11) writes a .P before and after every heading and at the end of
# every indented block, which mandoc -T lint reports ("skipping paragraph
# macro: PP empty", "PP after SH").  Here a .P that ends a block moves after
# its .RE (where the next item starts), and a .P next to a heading, another
# .P or the end of the page goes.  The text and its layout stay as they are.
{ line[n++] = $0 }
END {
	do {
		changed = 0
		for (i = 0; i < n; i++) {
			if (line[i] != ".P")
				continue
			if (i + 1 < n && line[i + 1] == ".RE") {
				line[i] = ".RE"; line[i + 1] = ".P"; changed = 1
			} else if (i + 1 == n || line[i + 1] ~ /^\.(SH|SS|P|PP|RE)( |$)/ ||
				   (i > 0 && line[i - 1] ~ /^\.(SH|SS|TH|RS)( |$)/)) {
				for (k = i; k < n - 1; k++)
					line[k] = line[k + 1]
				n--; changed = 1
			}
		}
	} while (changed)
	for (i = 0; i < n; i++)
		print line[i]
}
