# Reference values from R's glm and sandwich::vcovCL for the pairwise designs in pairwise_data/ (pairwise_designs.py).
#   Rscript tests/analysis/reference/pairwise_robust.R > tests/analysis/reference/pairwise_robust.csv
# (Debian: apt-get install r-cran-sandwich.) Without ties, Bradley–Terry is a logistic regression without intercept:
# y = 1 when the left condition is preferred, design x_left − x_right (one column a condition, the first in sorted
# order, the reference, dropped). Fitted by glm(family = binomial), refitted from its own estimates until the
# coefficients are at machine precision. One row a number, by table:
#   coefficient  the non-reference log strengths
#   model        vcov(fit): the inverse information
#   robust       vcovCL(fit, cluster = annotator + item, type = "HC0", fix = TRUE): Cameron, Gelbach & Miller's
#                V_annotator + V_item − V_(annotator × item), each term scaled by G / (G − 1) (cadjust = TRUE, the
#                default), negative eigenvalues of the sum set to 0
#   unfixed      the same with fix = FALSE
#   pair         every pair (first < second in sorted order) from the robust matrix: difference s_first − s_second,
#                se, statistic = difference / se, df = (A − 1)(I − 1) / (A + I − 2), p = 2 pt(−|statistic|, df)
#   count        judgments, annotators, items, annotator × item cells
suppressPackageStartupMessages(library(sandwich))
here <- dirname(normalizePath(sub("--file=", "", grep("--file=", commandArgs(FALSE), value = TRUE))))
rows <- list()
add <- function(design, table, row, column, value) {
  rows[[length(rows) + 1]] <<- data.frame(design = design, table = table, row = row, column = column,
                                          value = sprintf("%.17g", value))
}
for (path in sort(Sys.glob(file.path(here, "pairwise_data", "*.csv")))) {
  design <- sub("\\.csv$", "", basename(path))
  data <- read.csv(path, colClasses = "character")
  levels <- sort(unique(c(data$left, data$right)), method = "radix")
  X <- outer(data$left, levels, "==") - outer(data$right, levels, "==")
  colnames(X) <- levels
  X <- X[, -1, drop = FALSE]
  frame <- data.frame(y = as.numeric(data$choice == "left"), annotator = data$annotator, item = data$item)
  control <- glm.control(epsilon = 1e-14, maxit = 100)
  fit <- glm(frame$y ~ X - 1, family = binomial, control = control)
  # glm stops on the deviance's relative change, which leaves the coefficients about 1e-7 from the optimum; two
  # more runs started there take the IRLS (Newton) steps that bring them to machine precision.
  for (again in 1:2) fit <- glm(frame$y ~ X - 1, family = binomial, start = coef(fit), control = control)
  stopifnot(fit$converged)
  names <- levels[-1]
  cluster <- frame[, c("annotator", "item")]
  robust <- vcovCL(fit, cluster = cluster, type = "HC0", fix = TRUE)
  unfixed <- vcovCL(fit, cluster = cluster, type = "HC0", fix = FALSE)
  for (k in seq_along(names)) add(design, "coefficient", names[k], "", coef(fit)[k])
  for (name in c("model", "robust", "unfixed")) {
    V <- switch(name, model = vcov(fit), robust = robust, unfixed = unfixed)
    for (r in seq_along(names)) for (c in seq_along(names)) add(design, name, names[r], names[c], V[r, c])
  }
  A <- length(unique(data$annotator))
  I <- length(unique(data$item))
  df <- (A - 1) * (I - 1) / (A + I - 2)
  s <- c(0, coef(fit))
  V <- rbind(0, cbind(0, robust))
  for (i in seq_along(levels)) for (j in seq_along(levels)) if (i < j) {
    d <- s[i] - s[j]
    se <- sqrt(V[i, i] + V[j, j] - 2 * V[i, j])
    pair <- paste(levels[i], levels[j], sep = " - ")
    add(design, "pair", pair, "difference", d)
    add(design, "pair", pair, "se", se)
    add(design, "pair", pair, "statistic", d / se)
    add(design, "pair", pair, "df", df)
    add(design, "pair", pair, "p", 2 * pt(-abs(d / se), df))
  }
  add(design, "count", "judgments", "", nrow(data))
  add(design, "count", "annotators", "", A)
  add(design, "count", "items", "", I)
  add(design, "count", "cells", "", length(unique(paste(data$annotator, data$item))))
}
cat(sprintf("# %s; sandwich %s\n", R.version.string, packageVersion("sandwich")))
write.csv(do.call(rbind, rows), stdout(), row.names = FALSE, quote = FALSE)
