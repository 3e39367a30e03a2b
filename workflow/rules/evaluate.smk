# Rules of the evaluate stage group.
