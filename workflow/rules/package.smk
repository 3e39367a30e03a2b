# Rules of the package stage group.
